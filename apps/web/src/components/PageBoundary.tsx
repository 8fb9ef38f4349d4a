// Keeps the shell usable when a page fails to render. Two failures, told apart because they need
// different things from the user: pages fetched on first use (pages/admin/lazy.ts) can fail to
// arrive (the link dropped, or Postern was upgraded while this tab stayed open and the old files
// are gone), which a reload fixes; anything else is a bug in the page, which is said as such
// instead of blaming the network. Without a boundary React unmounts the whole app and leaves a
// blank page.
import { Component, type ErrorInfo, type ReactNode } from "react";
import { isChunkLoadError } from "../lib/chunk-load-error";

interface Props {
  /** What failed to download, in the chunk message: "admin pages". */
  what: string;
  /** A new value clears a shown error and renders the children again (RouteBoundary: the location). */
  resetKey?: unknown;
  children: ReactNode;
}

interface State {
  /** Whether anything was caught: a thrown value may be anything, undefined included. */
  failed: boolean;
  error: unknown;
}

const CLEAR: State = { failed: false, error: undefined };

/** The thrown error's own message, without its stack (of no use to the reader, and noise). */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  const firstLine = message.split("\n")[0]?.trim() ?? "";
  return firstLine.length > 300 ? `${firstLine.slice(0, 300)}…` : firstLine;
}

export class PageBoundary extends Component<Props, State> {
  override state: State = CLEAR;

  static getDerivedStateFromError(error: unknown): State {
    return { failed: true, error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo) {
    // A failed download is the network's doing and is shown in full; a bug is for whoever debugs.
    if (!isChunkLoadError(error)) console.error("A page failed to render:", error, info.componentStack);
  }

  override componentDidUpdate(prev: Props, prevState: State) {
    // Only an error that was already on screen before the key changed: one thrown while rendering
    // the new key's page is that page's, and resetting at once would just throw it again.
    if (prevState.failed && this.state.failed && prev.resetKey !== this.props.resetKey) this.reset();
  }

  private readonly reset = () => this.setState(CLEAR);

  override render() {
    if (!this.state.failed) return this.props.children;
    const reload = (
      <button type="button" onClick={() => window.location.reload()}>
        Reload
      </button>
    );
    if (isChunkLoadError(this.state.error)) {
      return (
        <div className="error" role="alert">
          <p>
            The {this.props.what} could not be loaded: the connection may have dropped, or Postern was upgraded since this page
            was opened.
          </p>
          {reload}
        </div>
      );
    }
    const message = describe(this.state.error);
    return (
      <div className="error" role="alert">
        <p>This page hit an error{message ? `: ${message.replace(/\.$/, "")}` : ""}. Try again, or reload the page.</p>
        <div className="page-error-actions">
          <button type="button" onClick={this.reset}>
            Try again
          </button>
          {reload}
        </div>
      </div>
    );
  }
}
