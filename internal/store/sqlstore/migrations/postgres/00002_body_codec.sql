-- +goose Up
-- body_codec says how html_body and text_body are stored: 0 as text, 1 as
-- S2-compressed bytes (see body.go).
ALTER TABLE emails ADD COLUMN body_codec SMALLINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE emails DROP COLUMN body_codec;
