import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import './style.css';
import { applyTheme, savedTheme } from './util/theme';

// Before the first paint, so a light-theme user never sees a dark flash.
applyTheme(savedTheme(), false);

createApp(App).use(createPinia()).mount('#app');
