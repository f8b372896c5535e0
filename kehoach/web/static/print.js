// The print view's "In trang này" button (a file, not inline: the Content-Security-Policy
// allows scripts from this site only).
document.getElementById("in-trang")?.addEventListener("click", () => window.print());
