/**
 * What the person is looking at: the image, the layer, the unit — and the results computed for them
 * (predictions, activation maps). Re-fetches when the selection changes; stale answers are dropped.
 */
import { defineStore } from 'pinia';
import { MAX_IMAGE_UPLOAD_BYTES, type ActivationMaps, type ImageEntry, type ImageRef, type PredictResult } from '../../shared/contract';
import { api } from '../api';
import { useAppStore } from './app';

let requestCounter = 0;

export const useSelectionStore = defineStore('selection', {
  state: () => ({
    image: undefined as ImageRef | undefined,
    imageLabel: '' as string,
    imageEntry: undefined as ImageEntry | undefined,
    layer: undefined as string | undefined,
    unit: undefined as number | undefined,
    predictions: undefined as PredictResult | undefined,
    activations: undefined as ActivationMaps | undefined,
    loading: false,
  }),
  getters: {
    unitCount: (s): number => (s.activations ? s.activations.shape[s.activations.shape.length - 1] : 0),
    isSpatial: (s): boolean => (s.activations ? s.activations.shape.length === 3 : false),
  },
  actions: {
    async selectImage(image: ImageRef, label: string, entry?: ImageEntry) {
      this.image = image;
      this.imageLabel = label;
      this.imageEntry = entry;
      // Nothing of the previous image may stand under this one's name (an unreadable file shows no answer at all).
      this.predictions = undefined;
      this.activations = undefined;
      await this.recompute();
    },
    /** A file the person picked or dropped: sent to the engine, then analysed like any other image. */
    async openFile(file: File) {
      try {
        if (file.size > MAX_IMAGE_UPLOAD_BYTES) {
          throw Object.assign(
            new Error(`${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MB; images over ${MAX_IMAGE_UPLOAD_BYTES / 2 ** 20} MB are not sent to the app`),
            { code: 'IMAGE_TOO_LARGE' },
          );
        }
        const uploaded = await api().uploadImage({ name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) });
        await this.selectImage(uploaded.ref, `your file · ${uploaded.name}`);
      } catch (error) {
        useAppStore().showError(error);
      }
    },
    async selectLayer(layer: string) {
      if (this.layer !== layer) this.unit = undefined;
      this.layer = layer;
      await this.recomputeActivations();
    },
    selectUnit(unit: number | undefined) {
      this.unit = unit;
    },
    async recompute() {
      await Promise.all([this.recomputePredictions(), this.recomputeActivations()]);
    },
    async recomputePredictions() {
      if (!this.image) return;
      const id = ++requestCounter;
      const image = this.image;
      try {
        const result = await api().predict({ image, top: 10 });
        // Only the newest request for the current image lands (a model or image change makes older ones stale).
        if (id === requestCounter && this.image === image) this.predictions = result;
      } catch (error) {
        useAppStore().showError(error);
      }
    },
    async recomputeActivations() {
      if (!this.image || !this.layer) return;
      const image = this.image;
      const layer = this.layer;
      this.loading = true;
      try {
        const maps = await api().activations({ image, layer });
        // Drop answers for a selection that has since changed.
        if (this.image === image && this.layer === layer) this.activations = maps;
      } catch (error) {
        useAppStore().showError(error);
      } finally {
        this.loading = false;
      }
    },
    /** Another model opened: keep the image, forget what was computed for the old model, compute again. */
    async modelChanged() {
      requestCounter++;
      this.predictions = undefined;
      this.activations = undefined;
      this.unit = undefined;
      // A layer of the same name in the new model stays selected; otherwise the view picks its first convolution.
      if (this.layer && !useAppStore().model?.layers.some((l) => l.name === this.layer)) this.layer = undefined;
      await this.recompute();
    },
    /**
     * Another folder opened: its images replace the old ones (the picker selects its first), while the layer and
     * unit stay selected — they belong to the model, which has not changed — and so does an image of the person's own.
     */
    datasetChanged() {
      requestCounter++;
      this.predictions = undefined;
      this.activations = undefined;
      if (this.image?.source === 'dataset') {
        this.image = undefined;
        this.imageLabel = '';
        this.imageEntry = undefined;
      } else void this.recompute();
    },
    reset() {
      requestCounter++;
      this.$reset();
    },
  },
});
