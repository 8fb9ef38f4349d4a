// The live board: every service the caller may use, as cards or as a compact list, with holders.
import { useState } from "react";
import { Link } from "react-router-dom";
import { ZServiceKind, type TService, type TServiceKind, type TSession } from "@postern/contracts";
import { useMe } from "../api/auth";
import { useServices } from "../api/services";
import { useActiveSessions } from "../api/sessions";
import { AdminStatus } from "../components/AdminStatus";
import { BoardList } from "../components/BoardList";
import { ErrorMessage, RefreshFailed } from "../components/ErrorMessage";
import { FirstRunChecklist } from "../components/FirstRunChecklist";
import { Skeleton } from "../components/Loading";
import { PendingApprovals } from "../components/PendingApprovals";
import { KIND_LABELS, ServiceCard } from "../components/ServiceCard";
import { usePageTitle } from "../lib/page-title";
import { useStoredChoice } from "../lib/stored-choice";

const KIND_ORDER = ZServiceKind.options;

function sessionsByService(sessions: TSession[]): Map<string, TSession[]> {
  const map = new Map<string, TSession[]>();
  for (const s of sessions) map.set(s.serviceId, [...(map.get(s.serviceId) ?? []), s]);
  return map;
}

function sortServices(services: TService[]): TService[] {
  return [...services].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name));
}

export function BoardPage() {
  usePageTitle("Board");
  const me = useMe().data;
  const services = useServices();
  const sessions = useActiveSessions();
  const [view, setView] = useStoredChoice("postern.boardView", ["cards", "list"] as const, "cards");
  const [kind, setKind] = useState<TServiceKind | "all">("all");
  const [search, setSearch] = useState("");
  if (!me) return null;
  const isAdmin = me.permissions.includes("admin");

  if (services.isPending || sessions.isPending) {
    return (
      <div className="board">
        <h1>Board</h1>
        <Skeleton what="Loading the board" shape="cards" count={6} />
      </div>
    );
  }
  // A failed poll keeps the board it had: only a board never read has nothing else to show.
  if (services.isLoadingError) return <ErrorMessage error={services.error} />;
  if (sessions.isLoadingError) return <ErrorMessage error={sessions.error} />;
  const refreshError = services.isRefetchError ? services.error : sessions.isRefetchError ? sessions.error : null;

  const bySession = sessionsByService(sessions.data);
  const kinds = KIND_ORDER.filter((k) => services.data.some((s) => s.kind === k));
  // A filter applies only while its control is on screen: when the board changes under it (the
  // last service of a kind deleted, the board down to six), a hidden one could not be undone.
  const kindShown = kinds.length > 1;
  const searchShown = services.data.length > 6;
  const byKind = kindShown && kind !== "all" && kinds.includes(kind) ? kind : "all";
  const needle = searchShown ? search.trim().toLowerCase() : "";
  const shown = sortServices(services.data).filter(
    (s) => (byKind === "all" || s.kind === byKind) && (!needle || `${s.name} ${s.slug} ${s.description ?? ""}`.toLowerCase().includes(needle)),
  );
  const pending = sessions.data.filter((s) => s.status === "pending");
  const activeCount = sessions.data.filter((s) => s.status === "active").length;

  return (
    <div className="board">
      <div className="page-head">
        <h1>Board</h1>
        <p className="muted small">
          {activeCount} active · {services.data.length} service{services.data.length === 1 ? "" : "s"}
        </p>
      </div>
      <RefreshFailed error={refreshError} />
      {isAdmin && <FirstRunChecklist services={services.data} />}
      {isAdmin && <AdminStatus />}
      {isAdmin && <PendingApprovals sessions={pending} services={services.data} />}
      {services.data.length === 0 ? (
        <section className="panel empty-state">
          <p>
            No services yet.{" "}
            {isAdmin ? (
              <>
                <Link to="/admin/services">Add one</Link> or <Link to="/admin/services?import=1">import a list</Link>.
              </>
            ) : (
              "Ask an admin to give your group access to a service."
            )}
          </p>
        </section>
      ) : (
        <>
          <div className="board-tools" role="group" aria-label="Board view">
            {searchShown && (
              <input
                type="search"
                className="board-search"
                aria-label="Find a service"
                placeholder="Find a service…"
                value={search}
                onChange={(e) => setSearch(e.target.value)}
              />
            )}
            {kindShown && (
              <div className="segmented" role="group" aria-label="Kind">
                {(["all", ...kinds] as const).map((k) => (
                  <button key={k} type="button" aria-pressed={byKind === k} onClick={() => setKind(k)}>
                    {k === "all" ? "All" : KIND_LABELS[k]}
                  </button>
                ))}
              </div>
            )}
            <div className="segmented" role="group" aria-label="Layout">
              <button type="button" aria-pressed={view === "cards"} onClick={() => setView("cards")}>
                Cards
              </button>
              <button type="button" aria-pressed={view === "list"} onClick={() => setView("list")}>
                List
              </button>
            </div>
          </div>
          {shown.length === 0 ? (
            <p className="panel empty-state">No service matches.</p>
          ) : view === "list" ? (
            <BoardList services={shown} bySession={bySession} me={me.user} />
          ) : (
            <section className="cards" aria-label="Services">
              {shown.map((service) => (
                <ServiceCard key={service.id} service={service} sessions={bySession.get(service.id) ?? []} me={me.user} isAdmin={isAdmin} />
              ))}
            </section>
          )}
        </>
      )}
    </div>
  );
}
