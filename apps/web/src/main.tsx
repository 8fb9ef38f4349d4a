import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter } from "react-router-dom";
import { isApiError } from "./api/client";
import { queryKeys } from "./api/keys";
import { mentionsDisabled, noteLoginEnded } from "./api/login-ended";
import { prefetchBoard } from "./api/prefetch";
import { App } from "./App";
import { ToastProvider } from "./components/Toast";
import { applyTheme } from "./lib/theme";
import "./styles.css";

applyTheme();

// A 401 anywhere means the login is gone (logged out elsewhere, expired, user disabled): forget
// the caller, and RequireAuth sends the browser to the login page, which says why.
function onError(err: unknown) {
  if (!isApiError(err, 401)) return;
  if (queryClient.getQueryData(queryKeys.me)) noteLoginEnded(mentionsDisabled(err.message) ? "disabled" : "ended");
  queryClient.setQueryData(queryKeys.me, null);
}

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError }),
  mutationCache: new MutationCache({ onError }),
  defaultOptions: {
    queries: {
      // A 4xx will not change by asking again; network trouble and 5xx might.
      retry: (count, err) => count < 2 && !(isApiError(err) && err.status >= 400 && err.status < 500),
      refetchOnWindowFocus: true,
    },
  },
});

prefetchBoard(queryClient, window.location.pathname);

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <ToastProvider>
          <App />
        </ToastProvider>
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
