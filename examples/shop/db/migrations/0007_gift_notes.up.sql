-- release 2.4: gift notes. Safe for release 2.3, which never touches the table.
CREATE TABLE gift_notes (
    id       bigserial PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders (id),
    message  text NOT NULL
);
