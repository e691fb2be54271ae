"""Flask-WTF forms (CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, Length

from app.wiring import wiring


def environment_labels() -> dict[str, str]:
    """Each configured Factorial environment's name and label, as pages show them."""
    return {e.name: e.label for e in wiring().settings.environments.values()}


def offer_environments(field: SelectField) -> None:
    """The configured environments as the field's choices, the first chosen by default."""
    field.choices = list(environment_labels().items())
    if not field.data and field.choices:
        field.data = field.choices[0][0]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()
    submit = SubmitField("Sign in")


class ActionForm(FlaskForm):
    """A bare POST button: only the CSRF token."""


class NewAdminForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=[("admin", "Admin"), ("viewer", "Viewer (read-only)")])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )
    submit = SubmitField("Add account")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=1024)]
    )
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("password", "Passwords differ.")],
    )
    submit = SubmitField("Change password")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[("admin", "Admin"), ("viewer", "Viewer")])
    submit = SubmitField("Change role")


class ActiveForm(FlaskForm):
    active = BooleanField("Active")
    submit = SubmitField("Save")


class ConnectForm(FlaskForm):
    environment = SelectField("Factorial environment", validators=[DataRequired()])
    kind = RadioField(
        "Token kind",
        choices=[("company", "Company token"), ("user", "User token")],
        default="company",
        validators=[DataRequired()],
    )
    submit = SubmitField("Continue to Factorial")
