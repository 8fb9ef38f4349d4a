// Pages fetched on first use (pages/admin/lazy.ts) can fail to arrive: the link dropped, or
// Postern was upgraded while this tab stayed open and the old files are gone. Without a boundary
// React unmounts the whole app and leaves a blank page; this keeps the shell and says what to do.
import { Component, type ReactNode } from "react";

interface State {
  failed: boolean;
}

export class ChunkBoundary extends Component<{ what: string; children: ReactNode }, State> {
  override state: State = { failed: false };

  static getDerivedStateFromError(): State {
    return { failed: true };
  }

  override render() {
    if (!this.state.failed) return this.props.children;
    return (
      <div className="error" role="alert">
        <p>
          The {this.props.what} could not be loaded: the connection may have dropped, or Postern was upgraded since this page
          was opened.
        </p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
