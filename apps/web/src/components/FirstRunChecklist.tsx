// For an admin on a fresh install: the few steps that make Postern useful, each a link to the
// screen that does it, ticked off as they are done. Hidden once done or dismissed.
import { useState } from "react";
import { Link } from "react-router-dom";
import type { TService } from "@postern/contracts";
import { useTunnel } from "../api/gateways";
import { useGroups, useUsers } from "../api/users";

const DISMISSED = "postern.firstRun.dismissed";

function isDismissed(): boolean {
  try {
    return localStorage.getItem(DISMISSED) === "1";
  } catch {
    return false;
  }
}

export function FirstRunChecklist({ services }: { services: TService[] }) {
  const groups = useGroups().data;
  const users = useUsers().data;
  const tunnel = useTunnel().data;
  const [dismissed, setDismissed] = useState(isDismissed);
  if (!groups || !users || dismissed) return null;

  const steps = [
    { done: groups.length > 0, to: "/admin/groups", label: "Make a group", hint: "e.g. “support”: groups decide who sees which service." },
    {
      done: groups.some((g) => (g.members ?? []).length > 0),
      to: "/admin/users",
      label: "Add people to it",
      hint: "Create a user for each teammate and tick their group.",
    },
    {
      done: services.some((s) => s.groupIds.length > 0),
      to: "/admin/services",
      label: "Add a service the group may use",
      hint: "A VPN, a customer connection, a LAN app — or import a list from CSV.",
    },
    {
      done: tunnel?.state === "open",
      to: "/admin/tunnel",
      label: "Open the public URL (optional)",
      hint: tunnel?.configured === false ? "Needs NGROK_AUTHTOKEN; skip it if your team reaches this server directly." : "So teammates outside your network can reach Postern.",
    },
  ];
  const required = steps.slice(0, 3);
  if (required.every((s) => s.done)) return null;
  const doneCount = steps.filter((s) => s.done).length;

  return (
    <section className="panel first-run" aria-labelledby="first-run-title" data-testid="first-run">
      <div className="page-head">
        <h2 id="first-run-title">Set up Postern</h2>
        <span className="muted small">
          {doneCount} of {steps.length} done
        </span>
      </div>
      <ol className="checklist-steps">
        {steps.map((s) => (
          <li key={s.to} className={s.done ? "step-done" : undefined}>
            <span className="step-mark" aria-hidden="true">
              {s.done ? "✓" : ""}
            </span>
            <span>
              <Link to={s.to}>{s.label}</Link>
              {s.done && <span className="sr-only"> (done)</span>}
              <span className="muted small step-hint">{s.hint}</span>
            </span>
          </li>
        ))}
      </ol>
      <button
        type="button"
        className="link-button small"
        onClick={() => {
          try {
            localStorage.setItem(DISMISSED, "1");
          } catch {
            // Without storage it comes back on the next visit; harmless.
          }
          setDismissed(true);
        }}
      >
        Hide this checklist
      </button>
    </section>
  );
}
