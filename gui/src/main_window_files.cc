// MainWindow's file handling: new, open (kind detected as the validator does), save (atomic,
// UTF-8 without BOM, an invalid file only after confirmation), import of organisations, compare,
// and the MDM exports through the library `eci-admin export` uses.
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>

#include "json_pane.h"
#include "main_window.h"
#include "policy_diff.h"
#include "side_panes.h"

namespace eci::gui {

void MainWindow::fail(const QString& message, bool interactive) {
  lastError_ = message;
  statusBar()->showMessage(message, 10000);
  if (interactive) QMessageBox::warning(this, tr("eci-admin-gui"), message);
}

bool MainWindow::maybeDiscard(EditorTab* tab) {
  if (!tab->document()->modified()) return true;
  QMessageBox box(QMessageBox::Question, tr("Unsaved changes"),
                  tr("%1 has unsaved changes. Discard them?").arg(tab->document()->label()),
                  QMessageBox::Discard | QMessageBox::Cancel, this);
  box.setObjectName(QStringLiteral("confirmDiscard"));
  box.setDefaultButton(QMessageBox::Cancel);
  return box.exec() == QMessageBox::Discard;
}

bool MainWindow::confirmInvalid(const QString& what, const eci::settings::Report& r) {
  size_t errors = 0;
  QStringList first;
  for (const auto& f : r.findings) {
    if (f.severity != eci::settings::Severity::kError) continue;
    if (errors++ < 5) first << QString::fromStdString(eci::settings::formatText(f));
  }
  QMessageBox box(
      QMessageBox::Warning, tr("The file does not validate"),
      tr("%1 has %n error(s); Docker Desktop and eci would not apply it as you expect. "
         "%2 anyway?",
         nullptr, static_cast<int>(errors))
          .arg(r.file.empty() ? QStringLiteral("The document") : QString::fromStdString(r.file),
               what),
      QMessageBox::NoButton, this);
  box.setObjectName(QStringLiteral("confirmInvalidSave"));
  box.setDetailedText(first.join(QLatin1Char('\n')));
  QPushButton* yes = box.addButton(tr("%1 anyway").arg(what), QMessageBox::DestructiveRole);
  yes->setObjectName(QStringLiteral("confirmYes"));
  QPushButton* no = box.addButton(QMessageBox::Cancel);
  no->setObjectName(QStringLiteral("confirmNo"));
  box.setDefaultButton(no);
  box.exec();
  return box.clickedButton() == yes;
}

void MainWindow::newDocument(eci::settings::FileKind kind) {
  EditorTab* t = kind == eci::settings::FileKind::kRegistry ? registry_ : settings_;
  tabs_->setCurrentWidget(t);
  if (!maybeDiscard(t)) return;
  Document fresh(kind);
  t->loadFrom({}, fresh.text());
}

bool MainWindow::openFile(const QString& path, bool interactive) {
  auto bytes = readFileBytes(path);
  if (!bytes.ok()) {
    fail(QString::fromStdString(bytes.error().str()), interactive);
    return false;
  }
  // The same detection `eci-admin validate` uses: content first, then the file name.
  auto kind = eci::settings::validateBytes(*bytes, QFileInfo(path).fileName().toStdString()).kind;
  if (kind == eci::settings::FileKind::kUnknown) kind = eci::settings::FileKind::kAdminSettings;
  EditorTab* t = kind == eci::settings::FileKind::kRegistry ? registry_ : settings_;
  tabs_->setCurrentWidget(t);
  if (interactive && !maybeDiscard(t)) return false;
  t->loadFrom(QFileInfo(path).absoluteFilePath(), std::move(*bytes));
  QSettings().setValue(QStringLiteral("lastDir"), QFileInfo(path).absolutePath());
  return true;
}

bool MainWindow::saveCurrent(const QString& pathIn) {
  EditorTab* t = currentTab();
  t->json()->flush();
  QString path = pathIn.isEmpty() ? t->document()->path() : pathIn;
  if (path.isEmpty()) {
    path = QFileDialog::getSaveFileName(this, tr("Save %1").arg(t->document()->label()),
                                        QSettings().value(QStringLiteral("lastDir")).toString() +
                                            QLatin1Char('/') + t->document()->label(),
                                        tr("JSON files (*.json)"));
    if (path.isEmpty()) return false;
  }
  const auto& report = t->document()->report();
  // Never write a file that does not validate without saying so.
  if (!report.valid() && !confirmInvalid(tr("Save"), report)) {
    statusBar()->showMessage(tr("Not saved"), 5000);
    return false;
  }
  if (auto st = t->saveTo(path); !st.ok()) {
    fail(QString::fromStdString(st.error().str()), true);
    return false;
  }
  statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
  return true;
}

void MainWindow::saveAsInteractive() {
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Save As"), currentTab()->document()->path(), tr("JSON files (*.json)"));
  if (!path.isEmpty()) saveCurrent(path);
}

void MainWindow::openInteractive() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Open admin-settings.json or registry.json"),
                                   QSettings().value(QStringLiteral("lastDir")).toString(),
                                   tr("JSON files (*.json);;All files (*)"));
  if (!path.isEmpty()) openFile(path);
}

bool MainWindow::importOrgs(const QString& path) {
  auto bytes = readFileBytes(path);
  if (!bytes.ok()) {
    fail(QString::fromStdString(bytes.error().str()), false);
    return false;
  }
  auto orgs = eci::gui::importOrgs(*bytes, path.toStdString());
  if (!orgs.ok()) {
    fail(QString::fromStdString(orgs.error().str()), false);
    return false;
  }
  tabs_->setCurrentWidget(registry_);
  Document* d = registry_->document();
  if (!d->editable()) {
    fail(tr("registry.json does not parse; fix it before importing"), false);
    return false;
  }
  Json list = Json::array();
  if (const Json* cur = at(d->json(), "/allowedOrgs"); cur != nullptr && cur->is_array())
    list = *cur;
  for (const auto& o : *orgs) {
    if (std::find(list.begin(), list.end(), Json(o)) == list.end()) list.push_back(o);
  }
  d->setValue("/allowedOrgs", list,
              tr("Import organisations from %1").arg(QFileInfo(path).fileName()));
  statusBar()->showMessage(
      tr("Imported %n organisation(s)", nullptr, static_cast<int>(orgs->size())), 5000);
  return true;
}

void MainWindow::importInteractive() {
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Import organisations"), QString(),
      tr("Profiles and plists (*.mobileconfig *.plist);;All files (*)"));
  if (!path.isEmpty() && !importOrgs(path)) QMessageBox::warning(this, tr("Import"), lastError_);
}

bool MainWindow::compareWithFile(const QString& path) {
  diff_->setDocument(currentTab()->document());
  const bool ok = diff_->compareWith(path);
  if (auto* d = findChild<QDockWidget*>(QStringLiteral("diffDock"))) {
    d->show();
    d->raise();
  }
  return ok;
}

bool MainWindow::compareWithDeployed() {
  const auto p = deployedPath(currentTab()->document()->kind());
  return compareWithFile(QString::fromStdString(p.string()));
}

void MainWindow::compareInteractive() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Compare with"), QString(),
                                                    tr("JSON files (*.json);;All files (*)"));
  if (!path.isEmpty()) compareWithFile(path);
}

#ifdef ECI_GUI_HAVE_MDM
eci::settings::mdm::ExportInput MainWindow::exportInput() const {
  eci::settings::mdm::ExportInput in;
  settings_->json()->flush();
  registry_->json()->flush();
  // A document takes part once it is a file or has been edited (as in the policy preview).
  for (EditorTab* t : {settings_, registry_}) {
    Document* d = t->document();
    if (d->path().isEmpty() && !d->modified()) continue;
    (t == settings_ ? in.adminSettings : in.registry) = d->text();
  }
  QSettings s;
  in.organization =
      s.value(QStringLiteral("export/organization"), QString()).toString().toStdString();
  in.identifierPrefix = s.value(QStringLiteral("export/identifierPrefix"),
                                QString::fromStdString(in.identifierPrefix))
                            .toString()
                            .toStdString();
  return in;
}

bool MainWindow::exportTo(eci::settings::mdm::Target target, const QString& dir) {
  auto in = exportInput();
  for (EditorTab* t : {settings_, registry_}) {
    const bool used = t == settings_ ? in.adminSettings.has_value() : in.registry.has_value();
    if (used && !t->document()->report().valid()) {
      if (!confirmInvalid(tr("Export"), t->document()->report())) return false;
      in.allowInvalid = true;
    }
  }
  auto ex = eci::settings::mdm::exportFor(target, in);
  if (!ex.ok()) {
    fail(QString::fromStdString(ex.error().str()), false);
    return false;
  }
  if (auto st = eci::settings::mdm::verifyExport(*ex, in); !st.ok()) {
    fail(tr("The export does not read back as written: %1")
             .arg(QString::fromStdString(st.error().str())),
         false);
    return false;
  }
  if (auto st = eci::settings::mdm::writeExport(*ex, dir.toStdString()); !st.ok()) {
    fail(QString::fromStdString(st.error().str()), false);
    return false;
  }
  QSettings().setValue(QStringLiteral("export/lastDir"), dir);
  statusBar()->showMessage(
      tr("Exported %n file(s) to %1", nullptr, static_cast<int>(ex->files.size())).arg(dir), 8000);
  return true;
}

void MainWindow::exportInteractive(int target) {
  const QString dir = QFileDialog::getExistingDirectory(
      this, tr("Export to folder"), QSettings().value(QStringLiteral("export/lastDir")).toString());
  if (dir.isEmpty()) return;
  if (!exportTo(static_cast<eci::settings::mdm::Target>(target), dir) && !lastError_.isEmpty()) {
    QMessageBox::warning(this, tr("Export"), lastError_);
  }
}
#else
void MainWindow::exportInteractive(int) {}
#endif

}  // namespace eci::gui
