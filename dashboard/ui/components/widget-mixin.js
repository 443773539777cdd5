// What both widgets do in the browser: take the view the server sends (on
// page load from the dashboard's data store, then on every change), tick a
// clock for what advances on its own (the position, an inching countdown),
// and send actions as `widget-send` `{action, value}`, which the server checks.
const NOTICE_MS = 5000;

export const widgetMixin = {
  inject: ['$socket', '$dataTracker'],
  props: {
    id: { type: String, required: true },
    props: { type: Object, default: () => ({}) },
    state: { type: Object, default: () => ({ enabled: false, visible: false }) },
  },
  data() {
    return { view: {}, series: {}, now: Date.now(), notice: null, timer: null };
  },
  computed: {
    online() {
      return this.view.health === 'online';
    },
    reason() {
      return this.view.reason || '';
    },
    name() {
      return this.props.name || '';
    },
    noticeText() {
      return this.notice && this.notice.until > this.now ? `${this.notice.command}: ${this.notice.message}` : '';
    },
  },
  created() {
    this.$dataTracker(this.id, this.onInput, this.onLoad);
  },
  mounted() {
    this.timer = setInterval(() => {
      this.now = Date.now();
    }, 1000);
  },
  unmounted() {
    clearInterval(this.timer);
  },
  methods: {
    onInput(msg) {
      if (!msg || typeof msg.payload !== 'object' || msg.payload === null) return;
      this.now = Date.now();
      this.view = msg.payload;
      if (msg.series) this.series = msg.series;
      if (msg.notice) this.notice = { ...msg.notice, until: Date.now() + NOTICE_MS };
    },
    onLoad(msg) {
      if (msg) this.onInput(msg);
    },
    act(action, value) {
      this.$socket.emit('widget-send', this.id, value === undefined ? { action } : { action, value });
    },
  },
};
