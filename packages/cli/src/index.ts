export { main, run } from './main.js';
