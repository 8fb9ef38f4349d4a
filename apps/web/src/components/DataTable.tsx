// The one table of the app. On a wide screen it is a table; on a phone each row becomes a card
// whose cells are labelled with their column (CSS in styles.css, `.data-table`), so nothing
// scrolls sideways. Row actions sit in a wrapper inside their cell, never on the cell itself, so
// the row's borders stay intact.
import type { ReactNode } from "react";

export interface Column<T> {
  key: string;
  header: string;
  /** The column's header is read to screen readers only (e.g. "Actions"). */
  hideHeader?: boolean;
  cell: (row: T) => ReactNode;
  /** The cell that names the row (a `<th scope="row">`, the card's title on a phone). */
  rowHeader?: boolean;
  /** Buttons: laid out in a row, without a label on a phone. */
  actions?: boolean;
  className?: string;
}

export function DataTable<T>(props: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  /** Names the table for screen readers. */
  caption: string;
  /** What to say when there are no rows. */
  empty: ReactNode;
  rowClassName?: (row: T) => string | undefined;
  className?: string;
  footer?: ReactNode;
}) {
  if (props.rows.length === 0) {
    return (
      <div className="empty-state" data-testid="empty-state">
        {props.empty}
      </div>
    );
  }
  return (
    <div className={["table-wrap", props.className].filter(Boolean).join(" ")}>
      <table className="data-table">
        <caption className="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c.key} scope="col" className={c.className}>
                {c.hideHeader ? <span className="sr-only">{c.header}</span> : c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={props.rowKey(row)} className={props.rowClassName?.(row)}>
              {props.columns.map((c) => {
                const cls = [c.className, c.actions ? "cell-actions" : "", c.rowHeader ? "cell-head" : ""].filter(Boolean).join(" ") || undefined;
                const content = c.actions ? <div className="row-actions">{c.cell(row)}</div> : c.cell(row);
                return c.rowHeader ? (
                  <th key={c.key} scope="row" className={cls}>
                    {content}
                  </th>
                ) : (
                  <td key={c.key} className={cls} data-label={c.actions || c.hideHeader ? undefined : c.header}>
                    {content}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {props.footer}
    </div>
  );
}
