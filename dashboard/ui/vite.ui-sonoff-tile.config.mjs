import { widgetConfig } from './vite.widget.mjs';

export default widgetConfig('ui-sonoff-tile');
