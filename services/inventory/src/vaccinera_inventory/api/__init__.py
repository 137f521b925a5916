"""The inventory's HTTP API, one router per resource. Every route is one operation of the
authorization matrix (``endpoint``); staff act on their own unit's stock (AC-5), the stock
administrators see the region's overview."""

from vaccinera_inventory.api import batches, overview, quick_lists, stock

routers = (stock.router, batches.router, quick_lists.router, overview.router)
