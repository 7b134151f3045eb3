-- Alert deliveries share the webhook outbox and its retry policy: a row is for one channel
-- (`revalidate` for the revalidation webhook, `alert_webhook`, `alert_pagerduty`,
-- `alert_email`), and alerts carry their message as JSON in `payload`. Each channel is
-- delivered in order: only its oldest pending row is tried.
ALTER TABLE webhook_outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'revalidate';
ALTER TABLE webhook_outbox ADD COLUMN payload TEXT;
CREATE INDEX webhook_outbox_channel_pending ON webhook_outbox(channel, id) WHERE status = 'pending';
