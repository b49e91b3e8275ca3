/** Staff roles (owner spans its organisation's locations), plus `display`: a customer display device (no staff behind it, no REST rights). */
export type Role = 'owner' | 'admin' | 'manager' | 'cashier' | 'kitchen' | 'display';
