-- An allocation-heavy job for a real program: build, index, join and aggregate 200,000 rows
-- of strings in an in-memory database.
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, tag TEXT, price REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO items SELECT i, printf('item-%08d-%s', i, hex(randomblob(8))), 'tag' || (i % 97), i * 0.37 FROM n;
CREATE INDEX items_tag ON items(tag);
CREATE INDEX items_name ON items(name);
SELECT tag, count(*), sum(price), max(name) FROM items GROUP BY tag ORDER BY 3 DESC LIMIT 3;
SELECT count(*) FROM items a JOIN items b ON a.tag = b.tag AND a.id = b.id + 97;
SELECT group_concat(name, ',') IS NOT NULL FROM (SELECT name FROM items ORDER BY name DESC LIMIT 50000);
