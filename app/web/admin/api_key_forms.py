"""Flask-WTF forms of the API keys pages (CSRF on every one); the key is checked by the service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional


class AddApiKeyForm(FlaskForm):
    environment = SelectField("Factorial environment", validators=[DataRequired()])
    label = StringField("Label", validators=[Optional(), Length(max=120)])
    # hide_value: a pasted key is never sent back in a page, not even after an error.
    key = PasswordField("API key", render_kw={"autocomplete": "off", "spellcheck": "false"})
    submit = SubmitField("Verify and store")


class CreateApiKeyForm(FlaskForm):
    label = StringField("Label", validators=[DataRequired(), Length(max=120)])
    submit = SubmitField("Create in Factorial")


class DeleteApiKeyForm(FlaskForm):
    in_factorial = BooleanField("Also delete it in Factorial")
    submit = SubmitField("Delete")
