/**
 * What the person is looking at: the image, the layer, the unit — and the results computed for them
 * (predictions, activation maps). Re-fetches when the selection changes; stale answers are dropped.
 */
import { defineStore } from 'pinia';
import type { ActivationMaps, ImageEntry, ImageRef, PredictResult } from '../../shared/contract';
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
      await this.recompute();
    },
    /** A file the person picked or dropped: sent to the engine, then analysed like any other image. */
    async openFile(file: File) {
      try {
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
      try {
        const result = await api().predict({ image: this.image, top: 10 });
        if (id === requestCounter || this.predictions === undefined) this.predictions = result;
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
    reset() {
      this.$reset();
    },
  },
});
