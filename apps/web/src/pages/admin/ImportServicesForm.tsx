// Bulk import (admin): `main;sub` lines, one service each, as `postern service import` reads
// them; pasted or read from a file. Settings apply to every created service.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ZServiceKind, type TImportResult, type TServiceKind } from "@postern/contracts";
import { useImportServices } from "../../api/services";
import { useGroups } from "../../api/users";
import { ErrorMessage } from "../../components/ErrorMessage";
import { Field } from "../../components/Field";
import { formErrors, type FieldMap } from "../../lib/field-errors";
import { GroupChecklist } from "./GroupChecklist";

type ImportField = "csv" | "maxMinutes" | "defaultMinutes" | "groupIds" | "kind";
const IMPORT_FIELDS: FieldMap<ImportField> = {
  body: { field: "csv", label: "Lines" },
  maxSeconds: { field: "maxMinutes", label: "the maximum duration", unit: "minutes" },
  defaultSeconds: { field: "defaultMinutes", label: "the default duration", unit: "minutes" },
  groupId: { field: "groupIds", label: "Allowed groups" },
  kind: { field: "kind", label: "Kind" },
};

export function ImportServicesForm({ onDone }: { onDone: () => void }) {
  const run = useImportServices();
  const groups = useGroups();
  const heading = useRef<HTMLHeadingElement>(null);
  const [csv, setCsv] = useState("");
  const [kind, setKind] = useState<TServiceKind>("vpn");
  const [exclusive, setExclusive] = useState(true);
  const [maxMinutes, setMaxMinutes] = useState("240");
  const [defaultMinutes, setDefaultMinutes] = useState("60");
  const [groupIds, setGroupIds] = useState<string[]>([]);
  const [result, setResult] = useState<TImportResult | null>(null);
  const errors = formErrors(run.error, IMPORT_FIELDS);

  useEffect(() => heading.current?.focus(), []);

  function submit(e: FormEvent) {
    e.preventDefault();
    setResult(null);
    run.mutate(
      {
        csv,
        options: {
          kind,
          exclusive,
          maxSeconds: Math.round(Number(maxMinutes) * 60) || undefined,
          defaultSeconds: Math.round(Number(defaultMinutes) * 60) || undefined,
          groupIds,
        },
      },
      { onSuccess: setResult },
    );
  }

  return (
    <form className="panel form-grid" onSubmit={submit} aria-label="Import services" noValidate>
      <h2 ref={heading} tabIndex={-1}>
        Import services
      </h2>
      <Field
        label="Lines"
        className="wide"
        hint="One service per line: “main;sub”, e.g. “vpn customer-a;vpn sub 1”. The name is made from both; existing ones are skipped."
        error={errors.fields.csv}
      >
        {(p) => <textarea {...p} rows={6} value={csv} onChange={(e) => setCsv(e.target.value)} placeholder={"vpn customer-a;vpn sub 1\nvpn customer-b;vpn sub 1"} />}
      </Field>
      <Field label="Or read a file">
        {(p) => (
          <input
            {...p}
            type="file"
            accept=".csv,text/csv,text/plain"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void file.text().then(setCsv);
            }}
          />
        )}
      </Field>
      <Field label="Kind" error={errors.fields.kind}>
        {(p) => (
          <select {...p} value={kind} onChange={(e) => setKind(e.target.value as TServiceKind)}>
            {ZServiceKind.options.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Default duration (minutes)" error={errors.fields.defaultMinutes}>
        {(p) => <input {...p} type="number" min={1} value={defaultMinutes} onChange={(e) => setDefaultMinutes(e.target.value)} />}
      </Field>
      <Field label="Maximum duration (minutes)" error={errors.fields.maxMinutes}>
        {(p) => <input {...p} type="number" min={1} value={maxMinutes} onChange={(e) => setMaxMinutes(e.target.value)} />}
      </Field>
      <label className="check">
        <input type="checkbox" checked={exclusive} onChange={(e) => setExclusive(e.target.checked)} />
        Exclusive (one holder at a time)
      </label>
      <GroupChecklist legend="Allowed groups" groups={groups.data ?? []} value={groupIds} onChange={setGroupIds} error={errors.fields.groupIds} />
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={run.isPending || !csv.trim()}>
          Import
        </button>
        <button type="button" onClick={onDone}>
          {result ? "Done" : "Cancel"}
        </button>
      </div>
      <div className="wide">
        <ErrorMessage error={errors.general} />
        {result && (
          <div role="status" className="import-result">
            <p>
              Created {result.created.length} service{result.created.length === 1 ? "" : "s"}
              {result.created.length > 0 && `: ${result.created.map((s) => s.name).join(", ")}`}.
            </p>
            {result.skipped.length > 0 && (
              <ul className="small">
                {result.skipped.map((s) => (
                  <li key={s.line}>
                    Line {s.line} skipped: {s.reason}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </div>
    </form>
  );
}
