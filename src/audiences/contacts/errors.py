from audiences.errors import NotFound


class ContactNotFound(NotFound):
    code = "contact_not_found"
    title = "Contact not found"
