/** Which view is shown; any view can send the person to another (e.g. an atlas image opens in Inspect). */
import { defineStore } from 'pinia';

export type ViewId = 'inspect' | 'atlas' | 'occlusion' | 'invariance' | 'evolution' | 'correspondence' | 'filters' | 'selectivity' | 'train';

export const useUiStore = defineStore('ui', {
  state: () => ({ view: 'inspect' as ViewId }),
  actions: {
    show(view: ViewId) {
      this.view = view;
    },
  },
});
