"""Two-way chat channels' store side, channel-agnostic: invite codes and contact links
(links.py), what a person may do from a chat (actions.py), and the bots that wire a chat
platform to them (telegram_bot.py)."""
