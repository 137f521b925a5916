"""The inventory's use cases, one module per resource: each loads through the repositories,
lets the domain decide, and commits through the unit of work. Routes and event handlers call
exactly one of them."""
