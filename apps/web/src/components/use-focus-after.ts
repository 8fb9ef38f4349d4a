// Keeps the keyboard where the user is when an action replaces the button they pressed (Start
// becomes Extend and End): after the action, focus moves to the named control once it exists.
import { useEffect, useState, type RefObject } from "react";

/** Give up if the control never appears (e.g. the action was refused). */
const GIVE_UP_MS = 5000;

/** `container`: where to look for `[data-focus=…]`; null looks in the whole page (keys must be unique). */
export function useFocusAfter(container: RefObject<HTMLElement | null> | null): (targets: string[] | null) => void {
  const [want, setWant] = useState<string[] | null>(null);

  // Runs after every render: the control appears when the query cache has caught up.
  useEffect(() => {
    if (!want) return;
    for (const key of want) {
      const scope: ParentNode | null | undefined = container ? container.current : document;
      const el = scope?.querySelector<HTMLElement>(`[data-focus="${CSS.escape(key)}"]`);
      if (el) {
        el.focus();
        setWant(null);
        return;
      }
    }
  });

  useEffect(() => {
    if (!want) return;
    const t = setTimeout(() => setWant(null), GIVE_UP_MS);
    return () => clearTimeout(t);
  }, [want]);

  return setWant;
}
