/**
 * Follow the instructor: the leading window's view (tab, layer, unit, image, model and folder) sent as it changes,
 * and a following window brought to the same place — opening the instructor's model and folder first when they
 * differ, so a unit number means the same unit — and shown the results the instructor built while leading.
 */
import { watch, type WatchStopHandle } from 'vue';
import type { LeadView } from '../../../shared/contract';
import { api } from '../../api';
import { useAppStore } from '../../stores/app';
import { useJobsStore } from '../../stores/jobs';
import { useSelectionStore } from '../../stores/selection';
import { useUiStore, type ViewId } from '../../stores/ui';

/** What this window shows now, as a lead others can follow. */
function currentView(): LeadView {
  const app = useAppStore();
  const selection = useSelectionStore();
  const image = selection.image?.source === 'dataset' ? { source: 'dataset' as const, index: selection.image.index } : undefined;
  return {
    tab: useUiStore().view,
    ...(selection.layer ? { layer: selection.layer } : {}),
    ...(selection.unit !== undefined ? { unit: selection.unit } : {}),
    ...(image ? { image } : {}),
    ...(app.model ? { model: app.model.id } : {}),
    ...(app.dataset ? { dataset: app.dataset.id } : {}),
  };
}

/** Sends this window's view as the lead whenever it changes (a click sends one message, not one per store field). */
export function startLeading(): WatchStopHandle {
  const app = useAppStore();
  const selection = useSelectionStore();
  const ui = useUiStore();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = () =>
    void api()
      .lead({ view: currentView() })
      .catch((error) => app.showError(error));
  send();
  const stop = watch(
    () => [ui.view, selection.layer, selection.unit, selection.image, app.model?.id, app.dataset?.id],
    () => {
      clearTimeout(timer);
      timer = setTimeout(send, 120);
    },
  );
  return () => {
    stop();
    clearTimeout(timer);
    void api()
      .lead({})
      .catch(() => undefined);
  };
}

/** Brings this window to the lead's view. */
export async function followView(view: LeadView): Promise<void> {
  const app = useAppStore();
  const selection = useSelectionStore();
  if (view.model && view.model !== app.model?.id) await app.openModel(view.model);
  if (view.dataset && view.dataset !== app.dataset?.id) await app.openDataset(view.dataset);
  useUiStore().show(view.tab as ViewId);
  if (view.image && !(selection.image?.source === 'dataset' && selection.image.index === view.image.index)) {
    const page = await api().listImages({ offset: view.image.index, limit: 1 });
    const entry = page.images[0];
    if (entry) await selection.selectImage(view.image, `${entry.className} · ${entry.file}`, entry);
  }
  if (view.layer && view.layer !== selection.layer) await selection.selectLayer(view.layer);
  if (view.unit !== selection.unit) selection.selectUnit(view.unit);
  // Last, once this window is on the instructor's model and folder: their results then belong to what it shows.
  if (view.results) await useJobsStore().showShared(view.results);
}
