// Opt-in alerts for the operator: a short tone and a desktop notification.
import { state } from "./app-state.js";

export async function toggleAlerts(on) {
  state.alerts = on;
  localStorage.setItem("tandem:alerts", on ? "on" : "off");
  if (on && "Notification" in window && Notification.permission === "default") await Notification.requestPermission();
}

export function alertOperator(text) {
  if (!state.alerts) return;
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.35);
  } catch { /* no audio here */ }
  if ("Notification" in window && Notification.permission === "granted" && document.visibilityState !== "visible") {
    new Notification("Tandem", { body: text, tag: "tandem" });
  }
}
