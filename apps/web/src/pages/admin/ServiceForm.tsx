// Create or edit a service. Durations are entered in minutes and sent in seconds; a mistake is
// shown beside its field, in minutes, before or after the API sees it.
import { useEffect, useRef, useState, type FormEvent } from "react";
import {
  slugify,
  ZCreateServiceBody,
  ZServiceKind,
  ZUpdateServiceBody,
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
import { Field, focusFirstInvalid } from "../../components/Field";
import { checkBody, formErrors, type FieldMap } from "../../lib/field-errors";
import { GroupChecklist } from "./GroupChecklist";

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
type FormField = keyof FormState;

/** The API's field paths → this form's fields, labels and units. */
const SERVICE_FIELDS: FieldMap<FormField> = {
  name: { field: "name", label: "Name" },
  slug: { field: "slug", label: "Slug" },
  description: { field: "description", label: "Description" },
  kind: { field: "kind", label: "Kind" },
  url: { field: "url", label: "URL" },
  "connection.main": { field: "connMain", label: "Connection (main)" },
  "connection.sub": { field: "connSub", label: "Connection (sub)" },
  connection: { field: "connMain", label: "Connection" },
  defaultDurationSeconds: { field: "defaultMinutes", label: "the default duration", unit: "minutes" },
  maxDurationSeconds: { field: "maxMinutes", label: "the maximum duration", unit: "minutes" },
  groupIds: { field: "groupIds", label: "Allowed groups" },
  "gateway.agentId": { field: "agentId", label: "Gateway" },
  "gateway.publicPort": { field: "publicPort", label: "Public port" },
  "gateway.lanHost": { field: "lanHost", label: "LAN host" },
  "gateway.lanPort": { field: "lanPort", label: "LAN port" },
  "gateway.protocol": { field: "protocol", label: "Protocol" },
  gateway: { field: "agentId", label: "Gateway" },
  publicPort: { field: "publicPort", label: "Public port" },
};

/** An empty or non-numeric box stays NaN so the contract says "must be a number" beside it. */
const minutesToSeconds = (m: string) => (m.trim() === "" ? Number.NaN : Math.round(Number(m) * 60));
const portOf = (p: string) => (p.trim() === "" ? Number.NaN : Number(p));

function gatewayOf(f: FormState): TGatewayBinding | undefined {
  if (!f.gatewayOn) return undefined;
  return { agentId: f.agentId, publicPort: portOf(f.publicPort), lanHost: f.lanHost.trim(), lanPort: portOf(f.lanPort), protocol: f.protocol };
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
  return { ...c, description: c.description ?? null, url: c.url ?? null, connection: c.connection ?? null, gateway: c.gateway ?? null };
}

export function ServiceForm({ service, onDone }: { service?: TService; onDone: () => void }) {
  const [f, setF] = useState(() => initialState(service));
  const [slugTouched, setSlugTouched] = useState(Boolean(service));
  const [localError, setLocalError] = useState<unknown>(null);
  const form = useRef<HTMLFormElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const groups = useGroups();
  const agents = useAgents(f.gatewayOn);
  const create = useCreateService();
  const update = useUpdateService();
  const mutation = service ? update : create;
  const errors = formErrors(localError ?? mutation.error, SERVICE_FIELDS);
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setF((prev) => ({ ...prev, [key]: value }));
  const refocus = () => requestAnimationFrame(() => focusFirstInvalid(form.current));

  useEffect(() => heading.current?.focus(), []);

  function submit(e: FormEvent) {
    e.preventDefault();
    mutation.reset();
    const checked = service ? checkBody(ZUpdateServiceBody, updateBody(f)) : checkBody(ZCreateServiceBody, createBody(f));
    if (!checked.ok) {
      setLocalError(checked.error);
      refocus();
      return;
    }
    setLocalError(null);
    if (service) update.mutate({ id: service.id, body: updateBody(f) }, { onSuccess: onDone, onError: refocus });
    else create.mutate(createBody(f), { onSuccess: onDone, onError: refocus });
  }

  const title = service ? `Edit ${service.name}` : "New service";
  const err = errors.fields;
  return (
    <form ref={form} className="panel form-grid" onSubmit={submit} aria-label={title} noValidate>
      <h2 ref={heading} tabIndex={-1}>
        {title}
      </h2>
      <Field label="Name" error={err.name}>
        {(p) => (
          <input
            {...p}
            value={f.name}
            onChange={(e) => {
              set("name", e.target.value);
              if (!slugTouched) set("slug", slugify(e.target.value));
            }}
          />
        )}
      </Field>
      <Field label="Slug" hint="Used in links and the CLI: lower-case letters, digits and dashes." error={err.slug}>
        {(p) => (
          <input
            {...p}
            value={f.slug}
            onChange={(e) => {
              setSlugTouched(true);
              set("slug", e.target.value);
            }}
          />
        )}
      </Field>
      <Field label="Kind" error={err.kind}>
        {(p) => (
          <select {...p} value={f.kind} onChange={(e) => set("kind", e.target.value as TServiceKind)}>
            {ZServiceKind.options.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="URL" hint="Optional: where “Open” goes." error={err.url}>
        {(p) => <input {...p} type="url" placeholder="https://…" value={f.url} onChange={(e) => set("url", e.target.value)} />}
      </Field>
      <Field label="Description" className="wide" error={err.description}>
        {(p) => <textarea {...p} rows={2} value={f.description} onChange={(e) => set("description", e.target.value)} />}
      </Field>
      <Field label="Connection (main)" error={err.connMain}>
        {(p) => <input {...p} placeholder="vpn main 1" value={f.connMain} onChange={(e) => set("connMain", e.target.value)} />}
      </Field>
      <Field label="Connection (sub)" error={err.connSub}>
        {(p) => <input {...p} placeholder="vpn sub 1" value={f.connSub} onChange={(e) => set("connSub", e.target.value)} />}
      </Field>
      <Field label="Default duration (minutes)" error={err.defaultMinutes}>
        {(p) => <input {...p} type="number" min={1} inputMode="numeric" value={f.defaultMinutes} onChange={(e) => set("defaultMinutes", e.target.value)} />}
      </Field>
      <Field label="Maximum duration (minutes)" hint="Up to 527,040 minutes (366 days)." error={err.maxMinutes}>
        {(p) => <input {...p} type="number" min={1} inputMode="numeric" value={f.maxMinutes} onChange={(e) => set("maxMinutes", e.target.value)} />}
      </Field>
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
      <GroupChecklist
        legend="Allowed groups"
        hint="Members of these groups see and use the service; with none, only admins do."
        groups={groups.data ?? []}
        value={f.groupIds}
        onChange={(ids) => set("groupIds", ids)}
        error={err.groupIds}
      />
      {f.gatewayOn && (
        <fieldset className="form-grid wide">
          <legend>Gateway binding</legend>
          <Field label="Gateway" error={err.agentId}>
            {(p) =>
              agents.data ? (
                <select {...p} value={f.agentId} onChange={(e) => set("agentId", e.target.value)}>
                  <option value="">Choose…</option>
                  {agents.data.map((a) => (
                    <option key={a.id} value={a.id}>
                      {a.name}
                    </option>
                  ))}
                </select>
              ) : (
                <input {...p} placeholder="agent id" value={f.agentId} onChange={(e) => set("agentId", e.target.value)} />
              )
            }
          </Field>
          <Field label="Public port" error={err.publicPort}>
            {(p) => <input {...p} type="number" min={1} max={65535} value={f.publicPort} onChange={(e) => set("publicPort", e.target.value)} />}
          </Field>
          <Field label="LAN host" error={err.lanHost}>
            {(p) => <input {...p} value={f.lanHost} onChange={(e) => set("lanHost", e.target.value)} />}
          </Field>
          <Field label="LAN port" error={err.lanPort}>
            {(p) => <input {...p} type="number" min={1} max={65535} value={f.lanPort} onChange={(e) => set("lanPort", e.target.value)} />}
          </Field>
          <Field label="Protocol" error={err.protocol}>
            {(p) => (
              <select {...p} value={f.protocol} onChange={(e) => set("protocol", e.target.value as TGatewayBinding["protocol"])}>
                <option value="tcp">tcp</option>
                <option value="udp">udp</option>
              </select>
            )}
          </Field>
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
        <ErrorMessage error={errors.general} />
      </div>
    </form>
  );
}
