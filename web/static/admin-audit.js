// Admin console: the company's audit trail — every change its admins, its operators (their own
// photos) and the platform made, newest first.
import { el } from "./console.js";
import { auditView } from "./console-audit.js";

export async function auditPane() {
  return [el("h1", {}, "Audit trail"),
    el("p", { class: "muted" }, "Who changed what and when, from which address, with each changed field before and after. Secrets are never shown; long texts are cut."),
    ...await auditView("/admin/audit")];
}
