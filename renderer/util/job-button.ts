/**
 * `v-job-button="'sparsity'"` on a button that starts a job: in a classroom student's window, where the instructor
 * has not allowed that kind, the button is disabled and says why — students see the instructor's result instead of
 * a button that would only answer with a refusal.
 */
import type { Directive } from 'vue';
import type { JobKind } from '../../shared/contract';
import { useAppStore } from '../stores/app';

const WHY = 'In the classroom the instructor runs this for everyone; their result appears here when they do.';

function apply(el: HTMLButtonElement, kind: JobKind) {
  const allowed = useAppStore().mayStart(kind);
  if (allowed) {
    if (el.dataset.studentLocked) {
      el.title = el.dataset.studentLocked === '-' ? '' : el.dataset.studentLocked;
      delete el.dataset.studentLocked;
    }
    return;
  }
  if (!el.dataset.studentLocked) el.dataset.studentLocked = el.title || '-';
  el.disabled = true;
  el.title = WHY;
}

export const jobButton: Directive<HTMLButtonElement, JobKind> = {
  mounted: (el, binding) => apply(el, binding.value),
  updated: (el, binding) => apply(el, binding.value),
};
