import type { Knex } from 'knex';

/**
 * "86" (sold out): whenever an item stops or starts being sellable — `available` switched, or a
 * tracked item's stock reaching 0 or coming back — every terminal hears it at once as
 * `item.updated` on `orders:<locationId>`. A trigger, because stock moves in many places (sales
 * at close, adjustments, counts, the catalog, an operator with psql) and none may forget it; the
 * event commits with the change that caused it. Same row shape and channel as `stock.low`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION tillflow_item_sellable_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      was boolean := OLD.available AND (NOT OLD.track_stock OR OLD.stock_quantity > 0);
      now_ boolean := NEW.available AND (NOT NEW.track_stock OR NEW.stock_quantity > 0);
      topic text := 'orders:' || NEW.location_id;
      event_id bigint;
    BEGIN
      IF was = now_ AND OLD.available = NEW.available THEN
        RETURN NEW;
      END IF;
      INSERT INTO order_events (location_id, order_id, version, event, topics, data, dedupe_key)
      VALUES (NEW.location_id, NULL, 0, 'item.updated', ARRAY[topic],
              jsonb_build_object('itemId', NEW.id, 'name', NEW.name, 'available', NEW.available, 'soldOut', NOT now_,
                                 'trackStock', NEW.track_stock, 'stockQuantity', NEW.stock_quantity),
              'item.updated:' || NEW.id || ':' || gen_random_uuid())
      RETURNING id INTO event_id;
      PERFORM pg_notify('tillflow_events', json_build_object('o', NULL, 'ids', json_build_array(event_id), 't', json_build_array(topic))::text);
      RETURN NEW;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER items_sellable_changed AFTER UPDATE OF available, stock_quantity, track_stock ON items
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION tillflow_item_sellable_changed()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS items_sellable_changed ON items');
  await knex.raw('DROP FUNCTION IF EXISTS tillflow_item_sellable_changed()');
}
