ALTER TABLE products DROP CONSTRAINT price_positive;
ALTER TABLE products DROP CONSTRAINT products_sku_key;
