// Entry point: mounts the Svelte app. Kept tiny for a fast first paint — pages and the engine Worker load later.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

mount(App, { target: document.getElementById('app')! });
