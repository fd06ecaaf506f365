"use strict";
const T = {
  zh: {user: "用户名", password: "密码", login: "登录", other: "English"},
  en: {user: "User", password: "Password", login: "Log in", other: "中文"},
};
let lang = localStorage.getItem("yw-lang") || "zh";
function apply() {
  document.querySelectorAll("[data-i18n]").forEach(e => { e.textContent = T[lang][e.dataset.i18n]; });
  document.getElementById("lang").textContent = T[lang].other;
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}
document.getElementById("lang").addEventListener("click", ev => {
  ev.preventDefault(); lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("yw-lang", lang); apply();
});
document.getElementById("login-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const r = await fetch("/api/login", {
    method: "POST", headers: {"Content-Type": "application/json"}, credentials: "same-origin",
    body: JSON.stringify({user: document.getElementById("user").value,
                          password: document.getElementById("password").value}),
  });
  if (r.ok) { location.href = "/"; return; }
  const body = await r.json().catch(() => ({}));
  document.getElementById("login-error").textContent = body.error || r.statusText;
});
apply();
