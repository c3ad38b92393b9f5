/**
 * A dialog takes the keyboard focus when it opens and gives it back, when it closes, to whatever had it before (the
 * button or tile that opened it), so a keyboard user does not land at the top of the page after Esc.
 * Without `open`, the dialog is open while its component is mounted; with it, while `open` is true.
 */
import { nextTick, onBeforeUnmount, onMounted, watch, type Ref } from 'vue';

export function useDialogFocus(dialog: Ref<HTMLElement | undefined>, open?: Readonly<Ref<boolean>>): void {
  let before: HTMLElement | undefined;
  const opened = async () => {
    before = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
    await nextTick();
    dialog.value?.focus();
  };
  const closed = () => {
    if (before?.isConnected) before.focus();
    before = undefined;
  };
  if (!open) {
    onMounted(opened);
    onBeforeUnmount(closed);
    return;
  }
  watch(open, (now, was) => {
    if (now && !was) void opened();
    else if (!now && was) closed();
  });
}
