/** Staff roles, plus `display`: a customer display device (no staff behind it, no REST rights). */
export type Role = 'admin' | 'manager' | 'cashier' | 'kitchen' | 'display';
