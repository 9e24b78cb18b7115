-- release 2.4: multi-tenant orders.
-- BK201: release 2.3 inserts orders without tenant_id; every one of those inserts fails.
-- BK207: there is no 0004_orders_tenant.down.sql, so this cannot be reversed.
ALTER TABLE orders ADD COLUMN tenant_id bigint NOT NULL;
-- Fine: a default covers the old inserts.
ALTER TABLE orders ADD COLUMN currency char(3) NOT NULL DEFAULT 'EUR';
