/**
 * Staff roles (owner spans its organisation's locations), plus two devices with no staff behind
 * them: `display` (a customer display, no REST rights) and `kitchen_screen` (its own kitchen
 * topic, and bumping its own lines).
 */
export type Role = 'owner' | 'admin' | 'manager' | 'cashier' | 'kitchen' | 'display' | 'kitchen_screen';
