// Package edustreamtest holds the test doubles shared by the tests of every
// package, like wtf's mock/: an in-memory store that passes the storage
// conformance suite (storage/storetest), so a test can run the domain's
// flows without SQLite; an event service that records what is published
// and delivers it the way the Redis adapter does; a job queue that
// records what is enqueued; and PutParts, which uploads the parts of an
// upload as a client would.
//
// Each double is safe for concurrent use. The recorders answer with what
// was recorded so far; tests that wait for something asynchronous use the
// waits they offer (Events.WaitFor, Events.Flush), never a sleep.
package edustreamtest
