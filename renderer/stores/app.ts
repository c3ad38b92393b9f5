/** App-wide state: connection, backend, the open model and dataset. State only; calls go through api/. */
import { defineStore } from 'pinia';
import {
  MODEL_UPLOAD_PART_BYTES,
  type AppState,
  type DatasetSummary,
  type JobKind,
  type ModelLoading,
  type ModelSettings,
  type ModelSummary,
} from '../../shared/contract';
import { api } from '../api';
import { uploadFolder, type FolderFiles } from '../util/folder-upload';

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
    /** A picked or dropped image folder being copied to the engine: files done of total. */
    copying: undefined as { folder: string; done: number; total: number } | undefined,
  }),
  getters: {
    model: (s): ModelSummary | undefined => s.state?.model,
    dataset: (s): DatasetSummary | undefined => s.state?.dataset,
    backendLabel: (s): string => s.state?.backend.detail ?? 'connecting…',
    /** A classroom student's window: the instructor chooses models and folders, so their controls are not shown. */
    student: (s): boolean => s.state?.session?.role === 'student',
    /** Whether this window may start a job of this kind (a classroom student only those the instructor allows). */
    mayStart:
      (s) =>
      (kind: JobKind): boolean =>
        s.state?.session?.role !== 'student' || s.state.session.studentJobs.includes(kind),
    /** The open model and folder in words. */
    contextLabel: (s): string => [s.state?.model?.name, s.state?.dataset?.name].filter(Boolean).join(' · '),
    /**
     * What a job's result depends on — the model file with its saved labels and preprocessing, and the image
     * folder — as a key: a result computed under another one is not shown as if it were this one's. A folder's
     * look-alike check depends on the folder only; a download, and fine-tuning runs (listed as runs, each naming its
     * models), on neither.
     */
    contextFor:
      (s) =>
      (kind: JobKind): string => {
        if (kind === 'zooDownload' || kind === 'finetune' || kind === 'resumeFinetune') return '';
        const m = s.state?.model;
        const folder = [s.state?.dataset?.id, s.state?.dataset?.count];
        return JSON.stringify(kind === 'datasetReport' ? folder : [m?.id, m?.classes, m?.preprocessing, ...folder]);
      },
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
        this.error = {
          code: 'BAD_ARGUMENT',
          message: `${file.name} is ${(file.size / 1024 ** 3).toFixed(1)} GB, too big to send to the app: type its path in "model path on the server" instead`,
        };
        return;
      }
      // Sent in parts: the server takes no message bigger than a part.
      return this.change(async () => {
        for (let offset = 0; offset < file.size || offset === 0; offset += MODEL_UPLOAD_PART_BYTES) {
          const bytes = new Uint8Array(await file.slice(offset, offset + MODEL_UPLOAD_PART_BYTES).arrayBuffer());
          await api().uploadModel({ name: file.name, bytes, offset, total: file.size });
          if (file.size === 0) break;
        }
      });
    },
    saveModelSettings(settings: ModelSettings) {
      return this.change(() => api().saveModelSettings(settings));
    },
    openDataset(path?: string) {
      return this.change(() => api().openDataset({ path }));
    },
    /** A folder the person picked or dropped: copied to the engine in batches (with progress), then opened. */
    async openPickedFolder(picked: FolderFiles) {
      if (!picked.files.length) {
        this.error = { code: 'DATASET_EMPTY', message: `The folder ${picked.folder} has no files CNN Inspector can use (one sub-folder of images per class)` };
        return;
      }
      this.copying = { folder: picked.folder, done: 0, total: picked.files.length };
      try {
        const where = await uploadFolder(picked, (done, total) => (this.copying = { folder: picked.folder, done, total }));
        await this.openDataset(where);
      } catch (error) {
        this.showError(error);
      } finally {
        this.copying = undefined;
      }
    },
  },
});
