-- v5: keyset paging by end instant reads an index range instead of sorting the tenant's units.
CREATE INDEX units_tenant_end ON units (tenant, end_ticks, id);
