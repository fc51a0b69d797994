// The feedback form: its text goes to the server over the feed (`{"type": "feedback"}`),
// which stores it sealed for the administrators (sts/server/feedback_desk.py). `feed` is
// a function: the form outlives a sign-out, the feed of one sign-in does not.

export class FeedbackForm {
  constructor({ form, from, text, status, feed }) {
    Object.assign(this, { form, from, text, status, feed });
    form.addEventListener("submit", (ev) => this.send(ev));
  }

  async send(ev) {
    ev.preventDefault();
    const text = this.text.value.trim();
    if (!text) {
      this.status.textContent = "Write your feedback first.";
      return;
    }
    this.status.textContent = "Sending…";
    try {
      const done = await this.feed().command({ type: "feedback", from: this.from.value, text });
      this.text.value = "";
      this.status.textContent = `Thank you: your feedback is recorded (reference ${done.feedback}). An administrator will answer it.`;
    } catch (err) {
      this.status.textContent = `Not sent: ${err.message}`;
    }
  }
}
