listen {
  address = ":25"
}

upstream {
  maildir = "var/mail"
}
