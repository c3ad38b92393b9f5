/** Which view is shown (any view can send the person to another, e.g. an atlas image opens in Inspect) and the theme. */
import { defineStore } from 'pinia';
import { applyTheme, savedTheme, type ThemeName } from '../util/theme';

export type ViewId = 'inspect' | 'atlas' | 'occlusion' | 'invariance' | 'evolution' | 'correspondence' | 'filters' | 'selectivity' | 'train';

export const useUiStore = defineStore('ui', {
  state: () => ({ view: 'inspect' as ViewId, theme: savedTheme() as ThemeName }),
  actions: {
    show(view: ViewId) {
      this.view = view;
    },
    setTheme(theme: ThemeName) {
      this.theme = theme;
      applyTheme(theme);
    },
  },
});
