/** App-wide state: connection, backend, the open model and dataset. State only; calls go through api/. */
import { defineStore } from 'pinia';
import type { AppState, DatasetSummary, ModelLoading, ModelSettings, ModelSummary } from '../../shared/contract';
import { api } from '../api';

export interface ErrorBanner {
  code: string;
  message: string;
}

export const useAppStore = defineStore('app', {
  state: () => ({
    state: undefined as AppState | undefined,
    connected: false,
    error: undefined as ErrorBanner | undefined,
    busy: false,
    /** A model being opened, while it is (big ONNX / Keras files take seconds). */
    loading: undefined as ModelLoading | undefined,
  }),
  getters: {
    model: (s): ModelSummary | undefined => s.state?.model,
    dataset: (s): DatasetSummary | undefined => s.state?.dataset,
    backendLabel: (s): string => s.state?.backend.detail ?? 'connecting…',
  },
  actions: {
    showError(error: unknown) {
      const e = error as { code?: string; message?: string };
      this.error = { code: e.code ?? 'INTERNAL', message: e.message ?? String(error) };
    },
    async refresh() {
      this.state = await api().getState();
      this.connected = true;
    },
    applyState(state: AppState) {
      this.state = state;
    },
    /** Runs a state-changing call with the busy flag set, then refreshes; a failure becomes the error banner. */
    async change(call: () => Promise<unknown>) {
      this.busy = true;
      try {
        await call();
        await this.refresh();
        this.error = undefined;
      } catch (error) {
        this.showError(error);
      } finally {
        this.busy = false;
      }
    },
    openModel(path?: string) {
      return this.change(() => api().openModel({ path }));
    },
    /** A model file the person picked or dropped (.onnx, .h5, .keras). */
    async uploadModel(file: File) {
      if (file.size > 1000 * 1024 * 1024) {
        this.error = { code: 'BAD_ARGUMENT', message: `${file.name} is ${(file.size / 1024 ** 3).toFixed(1)} GB, too big to send to the app: type its path in "model path on the server" instead` };
        return;
      }
      const bytes = new Uint8Array(await file.arrayBuffer());
      return this.change(() => api().uploadModel({ name: file.name, bytes }));
    },
    saveModelSettings(settings: ModelSettings) {
      return this.change(() => api().saveModelSettings(settings));
    },
    openDataset(path?: string) {
      return this.change(() => api().openDataset({ path }));
    },
  },
});
