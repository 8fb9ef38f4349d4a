import type { TGroup } from "@postern/contracts";

/** Checkboxes for choosing groups, as a labelled fieldset, with its error beside it. */
export function GroupChecklist(props: {
  groups: TGroup[];
  value: string[];
  onChange: (ids: string[]) => void;
  legend?: string;
  hint?: string;
  error?: string | null;
}) {
  const toggle = (id: string, on: boolean) =>
    props.onChange(on ? [...props.value, id] : props.value.filter((v) => v !== id));
  return (
    <fieldset className="checklist">
      <legend>{props.legend ?? "Groups"}</legend>
      {props.groups.length === 0 && <span className="muted small">No groups yet.</span>}
      {props.groups.map((g) => (
        <label key={g.id} className="check">
          <input type="checkbox" checked={props.value.includes(g.id)} onChange={(e) => toggle(g.id, e.target.checked)} />
          {g.name}
        </label>
      ))}
      {props.hint && <small className="field-hint">{props.hint}</small>}
      {props.error && <small className="field-error">{props.error}</small>}
    </fieldset>
  );
}
