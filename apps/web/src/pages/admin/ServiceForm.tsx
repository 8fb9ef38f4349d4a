// Create or edit a service. Durations are entered in minutes and sent in seconds.
import { useState, type FormEvent } from "react";
import {
  ZServiceKind,
  type TCreateServiceBody,
  type TGatewayBinding,
  type TService,
  type TServiceKind,
  type TUpdateServiceBody,
} from "@postern/contracts";
import { useAgents } from "../../api/gateways";
import { useCreateService, useUpdateService } from "../../api/services";
import { useGroups } from "../../api/users";
import { ErrorMessage } from "../../components/ErrorMessage";
import { GroupChecklist } from "./GroupChecklist";

function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
}

function initialState(s?: TService) {
  return {
    name: s?.name ?? "",
    slug: s?.slug ?? "",
    description: s?.description ?? "",
    kind: s?.kind ?? ("web" as TServiceKind),
    url: s?.url ?? "",
    connMain: s?.connection?.main ?? "",
    connSub: s?.connection?.sub ?? "",
    exclusive: s?.exclusive ?? false,
    requiresApproval: s?.requiresApproval ?? false,
    defaultMinutes: String((s?.defaultDurationSeconds ?? 3600) / 60),
    maxMinutes: String((s?.maxDurationSeconds ?? 4 * 3600) / 60),
    groupIds: s?.groupIds ?? [],
    gatewayOn: Boolean(s?.gateway),
    agentId: s?.gateway?.agentId ?? "",
    publicPort: String(s?.gateway?.publicPort ?? ""),
    lanHost: s?.gateway?.lanHost ?? "",
    lanPort: String(s?.gateway?.lanPort ?? ""),
    protocol: s?.gateway?.protocol ?? ("tcp" as TGatewayBinding["protocol"]),
  };
}
type FormState = ReturnType<typeof initialState>;

const minutesToSeconds = (m: string) => Math.round(Number(m) * 60);

function gatewayOf(f: FormState): TGatewayBinding | undefined {
  if (!f.gatewayOn) return undefined;
  return {
    agentId: f.agentId,
    publicPort: Number(f.publicPort),
    lanHost: f.lanHost.trim(),
    lanPort: Number(f.lanPort),
    protocol: f.protocol,
  };
}

function createBody(f: FormState): TCreateServiceBody {
  return {
    name: f.name.trim(),
    slug: f.slug.trim(),
    description: f.description.trim() || undefined,
    kind: f.kind,
    url: f.url.trim() || undefined,
    connection: f.connMain.trim() ? { main: f.connMain.trim(), sub: f.connSub.trim() || undefined } : undefined,
    exclusive: f.exclusive,
    requiresApproval: f.requiresApproval,
    defaultDurationSeconds: minutesToSeconds(f.defaultMinutes),
    maxDurationSeconds: minutesToSeconds(f.maxMinutes),
    groupIds: f.groupIds,
    gateway: gatewayOf(f),
  };
}

/** An edit sends every field; cleared optional fields become null so the API clears them. */
function updateBody(f: FormState): TUpdateServiceBody {
  const c = createBody(f);
  return {
    ...c,
    description: c.description ?? null,
    url: c.url ?? null,
    connection: c.connection ?? null,
    gateway: c.gateway ?? null,
  };
}

export function ServiceForm({ service, onDone }: { service?: TService; onDone: () => void }) {
  const [f, setF] = useState(() => initialState(service));
  const [slugTouched, setSlugTouched] = useState(Boolean(service));
  const groups = useGroups();
  const agents = useAgents(f.gatewayOn);
  const create = useCreateService();
  const update = useUpdateService();
  const mutation = service ? update : create;
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setF((prev) => ({ ...prev, [key]: value }));

  function submit(e: FormEvent) {
    e.preventDefault();
    if (service) update.mutate({ id: service.id, body: updateBody(f) }, { onSuccess: onDone });
    else create.mutate(createBody(f), { onSuccess: onDone });
  }

  const title = service ? `Edit ${service.name}` : "New service";
  return (
    <form className="panel form-grid" onSubmit={submit} aria-label={title}>
      <h2>{title}</h2>
      <label className="field">
        <span>Name</span>
        <input
          required
          value={f.name}
          onChange={(e) => {
            set("name", e.target.value);
            if (!slugTouched) set("slug", slugify(e.target.value));
          }}
        />
      </label>
      <label className="field">
        <span>Slug</span>
        <input
          required
          pattern="[a-z0-9]+(-[a-z0-9]+)*"
          title="lower-case letters, digits and single dashes"
          value={f.slug}
          onChange={(e) => {
            setSlugTouched(true);
            set("slug", e.target.value);
          }}
        />
      </label>
      <label className="field">
        <span>Kind</span>
        <select value={f.kind} onChange={(e) => set("kind", e.target.value as TServiceKind)}>
          {ZServiceKind.options.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>URL</span>
        <input type="url" placeholder="https://…" value={f.url} onChange={(e) => set("url", e.target.value)} />
      </label>
      <label className="field wide">
        <span>Description</span>
        <textarea rows={2} value={f.description} onChange={(e) => set("description", e.target.value)} />
      </label>
      <label className="field">
        <span>Connection (main)</span>
        <input placeholder="vpn main 1" value={f.connMain} onChange={(e) => set("connMain", e.target.value)} />
      </label>
      <label className="field">
        <span>Connection (sub)</span>
        <input placeholder="vpn sub 1" value={f.connSub} onChange={(e) => set("connSub", e.target.value)} />
      </label>
      <label className="field">
        <span>Default duration (minutes)</span>
        <input type="number" min={1} required value={f.defaultMinutes} onChange={(e) => set("defaultMinutes", e.target.value)} />
      </label>
      <label className="field">
        <span>Maximum duration (minutes)</span>
        <input type="number" min={1} required value={f.maxMinutes} onChange={(e) => set("maxMinutes", e.target.value)} />
      </label>
      <div className="field checks">
        <label className="check">
          <input type="checkbox" checked={f.exclusive} onChange={(e) => set("exclusive", e.target.checked)} />
          Exclusive (one holder at a time)
        </label>
        <label className="check">
          <input type="checkbox" checked={f.requiresApproval} onChange={(e) => set("requiresApproval", e.target.checked)} />
          Requires an admin’s approval
        </label>
        <label className="check">
          <input type="checkbox" checked={f.gatewayOn} onChange={(e) => set("gatewayOn", e.target.checked)} />
          Forward through a gateway
        </label>
      </div>
      <GroupChecklist legend="Allowed groups" groups={groups.data ?? []} value={f.groupIds} onChange={(ids) => set("groupIds", ids)} />
      {f.gatewayOn && (
        <fieldset className="form-grid wide">
          <legend>Gateway binding</legend>
          <label className="field">
            <span>Gateway</span>
            {agents.data ? (
              <select required value={f.agentId} onChange={(e) => set("agentId", e.target.value)}>
                <option value="">Choose…</option>
                {agents.data.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
            ) : (
              <input required placeholder="agent id" value={f.agentId} onChange={(e) => set("agentId", e.target.value)} />
            )}
          </label>
          <label className="field">
            <span>Public port</span>
            <input type="number" min={1} max={65535} required value={f.publicPort} onChange={(e) => set("publicPort", e.target.value)} />
          </label>
          <label className="field">
            <span>LAN host</span>
            <input required value={f.lanHost} onChange={(e) => set("lanHost", e.target.value)} />
          </label>
          <label className="field">
            <span>LAN port</span>
            <input type="number" min={1} max={65535} required value={f.lanPort} onChange={(e) => set("lanPort", e.target.value)} />
          </label>
          <label className="field">
            <span>Protocol</span>
            <select value={f.protocol} onChange={(e) => set("protocol", e.target.value as TGatewayBinding["protocol"])}>
              <option value="tcp">tcp</option>
              <option value="udp">udp</option>
            </select>
          </label>
        </fieldset>
      )}
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={mutation.isPending}>
          {service ? "Save changes" : "Create service"}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      <div className="wide">
        <ErrorMessage error={mutation.error} />
      </div>
    </form>
  );
}
