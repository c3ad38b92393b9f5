import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import './style.css';
import { applyTheme, savedTheme } from './util/theme';
import { jobButton } from './util/job-button';

// Before the first paint, so a light-theme user never sees a dark flash.
applyTheme(savedTheme(), false);

createApp(App).use(createPinia()).directive('job-button', jobButton).mount('#app');
