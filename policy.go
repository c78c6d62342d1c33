package edustream

// The access rules. Every resolver that hands out a course or a lecture, at the
// root or as a field of another object, asks these functions; nothing else
// decides who sees what.

// CanViewCourse reports whether u (nil: anonymous) may see c and its lectures.
// Published courses are public to everyone who may see the catalog at all;
// drafts only to their instructor and admins; hidden courses to no one.
func CanViewCourse(u *User, c *Course) bool {
	switch {
	case c == nil || c.DeletedAt != nil:
		return false
	case c.Published():
		return true
	case u == nil:
		return false
	}
	return u.IsAdmin() || (u.Role == RoleInstructor && c.InstructorID == u.ID)
}

// CanEditCourse reports whether u may change c, its lectures, and delete it.
func CanEditCourse(u *User, c *Course) bool {
	if u == nil || c == nil || c.DeletedAt != nil {
		return false
	}
	return u.IsAdmin() || (u.Role == RoleInstructor && c.InstructorID == u.ID)
}

// CanCreateCourse reports whether u may create courses.
func CanCreateCourse(u *User) bool {
	return u != nil && (u.Role == RoleAdmin || u.Role == RoleInstructor)
}

// CanEnroll reports whether u may enroll in c: any signed-in user, in a
// published course.
func CanEnroll(u *User, c *Course) bool {
	return u != nil && c != nil && c.DeletedAt == nil && c.Published()
}

// CatalogFilter narrows f to what u may see: drafts only for their instructor,
// all of them for admins.
func CatalogFilter(u *User, f CourseFilter) CourseFilter {
	f.AllDrafts, f.DraftsOf = false, 0
	switch {
	case u.IsAdmin():
		f.AllDrafts = true
	case u != nil && u.Role == RoleInstructor:
		f.DraftsOf = u.ID
	}
	return f
}

// CanScheduleLiveSession reports whether u may schedule, change and cancel
// the live sessions of c: its instructor and admins.
func CanScheduleLiveSession(u *User, c *Course) bool { return CanEditCourse(u, c) }

// CanJoinLiveSession reports whether u may see how to join the live
// sessions of c (link, meeting number, password): the instructor, admins,
// and students enrolled in the published course. enrolled says whether u
// is enrolled in c. Whoever sees the course sees that a session exists.
func CanJoinLiveSession(u *User, c *Course, enrolled bool) bool {
	return CanWatchLecture(u, c, enrolled)
}

// CanHostLiveSession reports whether u may have the host key of the live
// sessions of c: the instructor and admins.
func CanHostLiveSession(u *User, c *Course) bool { return CanEditCourse(u, c) }

// CanWatchLecture reports whether u may watch the lecture videos of c (and
// follow their encoding): the instructor, admins, and enrolled students.
// enrolled says whether u is enrolled in c.
func CanWatchLecture(u *User, c *Course, enrolled bool) bool {
	if u == nil || c == nil || c.DeletedAt != nil {
		return false
	}
	return CanEditCourse(u, c) || (enrolled && c.Published())
}
