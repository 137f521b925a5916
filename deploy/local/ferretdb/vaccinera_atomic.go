// Vaccinera's patch to FerretDB 1.24 (added to internal/handler at build time).
//
// FerretDB 1.x runs update, findAndModify and delete as read-modify-write: it queries the
// matching documents, changes them in Go and writes them back, with nothing held in between.
// Two concurrent updates of one document therefore lose one of them, and a conditional update
// ("book this slot if it is free") can succeed twice. MongoDB guarantees that single-document
// writes are atomic, and Vaccinera relies on it. Running these operations one at a time per
// collection restores that guarantee for the single FerretDB process used in development.

package handler

import "sync"

var vaccineraCollectionLocks sync.Map

// vaccineraLock serialises read-modify-write operations on one collection; call the returned
// function to release it.
func vaccineraLock(db, collection string) func() {
	lock, _ := vaccineraCollectionLocks.LoadOrStore(db+"."+collection, new(sync.Mutex))
	mu := lock.(*sync.Mutex)
	mu.Lock()

	return mu.Unlock
}
