/* ct_vtk.cxx — the one C++ file that talks to VTK: .vtu writing (atomic, zlib, appended binary)
 * and reading, behind the C API of ct_vtk.h.
 *
 * Every entry point catches all C++ exceptions and turns them into a ct_status. VTK reports errors by
 * firing ErrorEvent on the object at fault (and printing to stderr if nobody listens); an observer
 * (ct_vtk_error_capture) listens on the writer, reader and XML parser, so the text lands in the
 * ct_error message instead of on the terminal.
 */
#include "ct_vtk.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vtkAlgorithm.h>
#include <vtkCallbackCommand.h>
#include <vtkCellArray.h>
#include <vtkCellData.h>
#include <vtkCellTypes.h>
#include <vtkCommand.h>
#include <vtkDataArray.h>
#include <vtkDoubleArray.h>
#include <vtkErrorCode.h>
#include <vtkIntArray.h>
#include <vtkSignedCharArray.h>
#include <vtkTypeInt32Array.h>
#include <vtkUnsignedCharArray.h>
#include <vtkExecutive.h>
#include <vtkIdList.h>
#include <vtkIdTypeArray.h>
#include <vtkNew.h>
#include <vtkObjectFactory.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkUnstructuredGrid.h>
#include <vtkXMLDataElement.h>
#include <vtkXMLDataParser.h>
#include <vtkXMLUnstructuredGridReader.h>
#include <vtkXMLUnstructuredGridWriter.h>

namespace {

/* ---- capture of VTK error text ---------------------------------------------------------------- */

struct ct_vtk_error_capture {
    std::string text; /* messages joined by "; " */
    vtkNew<vtkCallbackCommand> command;

    vtkNew<vtkCallbackCommand> discard;

    ct_vtk_error_capture()
    {
        command->SetCallback(&ct_vtk_error_capture::on_event);
        command->SetClientData(this);
        discard->SetCallback([](vtkObject *, unsigned long, void *, void *) {});
    }
    /* Captures the errors of `algo` and its XML parts; silences its pipeline executive, whose only
     * message ("Algorithm ... returned failure for request: <dump>") repeats what `algo` said. */
    void watch(vtkAlgorithm *algo)
    {
        algo->AddObserver(vtkCommand::ErrorEvent, command);
        algo->GetExecutive()->AddObserver(vtkCommand::ErrorEvent, discard);
    }

    static void on_event(vtkObject *, unsigned long, void *client, void *call_data)
    {
        auto *self = static_cast<ct_vtk_error_capture *>(client);
        const char *msg = static_cast<const char *>(call_data);
        if (msg == nullptr)
            return;
        /* VTK's text is "ERROR: In <source>, line N\n<Class> (0x<addr>): <message>\n\n";
         * keep "<Class>: <message>". */
        std::string m(msg);
        if (m.compare(0, 10, "ERROR: In ") == 0 && m.find('\n') != std::string::npos)
            m.erase(0, m.find('\n') + 1);
        const size_t addr = m.find(" (0x");
        if (addr != std::string::npos) {
            size_t end = addr + 4;
            while (end < m.size() && std::isxdigit(static_cast<unsigned char>(m[end])))
                ++end;
            if (end < m.size() && m[end] == ')')
                m.erase(addr, end + 1 - addr);
        }
        while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
            m.pop_back();
        if (!self->text.empty())
            self->text += "; ";
        self->text += m;
    }
    /* The captured text, or `fallback` if VTK said nothing. */
    const char *or_else(const char *fallback) const { return text.empty() ? fallback : text.c_str(); }
};

/* ---- argument checks -------------------------------------------------------------------------- */

ct_status check_fields(const char *path, const char *where, const ct_vtk_field *fields, int n_fields,
                       size_t n_items)
{
    if (n_fields < 0)
        return ct_error_set(CT_ERR_INTERNAL, "%s: n_%s_fields = %d is negative", path, where, n_fields);
    if (n_fields > 0 && fields == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "%s: %d %s fields but the array is NULL", path, n_fields,
                            where);
    for (int i = 0; i < n_fields; ++i) {
        const ct_vtk_field &f = fields[i];
        if (f.name == nullptr || f.name[0] == '\0')
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field #%d has no name", path, where, i);
        if (f.n_components < 1)
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\": n_components = %d, must be >= 1",
                                path, where, f.name, f.n_components);
        if (f.data == nullptr && n_items > 0)
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\": data is NULL", path, where, f.name);
        if (f.type != CT_VTK_FLOAT64 && f.type != CT_VTK_INT32 && f.type != CT_VTK_INT8)
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\": unknown type %d", path, where, f.name,
                                f.type);
        if (f.type != CT_VTK_FLOAT64) {
            const double lim = f.type == CT_VTK_INT32 ? 2147483647.0 : 127.0;
            const size_t n = n_items * static_cast<size_t>(f.n_components);
            for (size_t k = 0; k < n; ++k)
                if (!(f.data[k] == std::floor(f.data[k]) && f.data[k] >= -lim - 1 && f.data[k] <= lim))
                    return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\": value %g at %zu is not a whole "
                                        "number that fits its integer type", path, where, f.name, f.data[k], k);
        }
        for (int j = 0; j < i; ++j)
            if (std::strcmp(fields[j].name, f.name) == 0)
                return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\" appears twice", path, where,
                                    f.name);
    }
    return CT_OK;
}

/* An integer array of type A (vtkIntArray, vtkSignedCharArray) from a field checked by check_fields. */
template <class A, class T>
void add_int_field(vtkFieldData *dst, const ct_vtk_field &f, size_t n_items)
{
    vtkNew<A> arr;
    arr->SetName(f.name);
    arr->SetNumberOfComponents(f.n_components);
    arr->SetNumberOfTuples(static_cast<vtkIdType>(n_items));
    const size_t n = n_items * static_cast<size_t>(f.n_components);
    T *out = arr->GetPointer(0);
    for (size_t k = 0; k < n; ++k)
        out[k] = static_cast<T>(f.data[k]);
    dst->AddArray(arr);
}

void add_fields(vtkFieldData *dst, const ct_vtk_field *fields, int n_fields, size_t n_items)
{
    for (int i = 0; i < n_fields; ++i) {
        if (fields[i].type == CT_VTK_INT32) {
            add_int_field<vtkIntArray, int>(dst, fields[i], n_items);
            continue;
        }
        if (fields[i].type == CT_VTK_INT8) {
            add_int_field<vtkSignedCharArray, signed char>(dst, fields[i], n_items);
            continue;
        }
        /* lent, not copied (write_vtu): VTK neither frees nor changes an array given with save = 1 */
        vtkNew<vtkDoubleArray> arr;
        arr->SetName(fields[i].name);
        arr->SetNumberOfComponents(fields[i].n_components);
        const size_t n = n_items * static_cast<size_t>(fields[i].n_components);
        if (n > 0)
            arr->SetArray(const_cast<double *>(fields[i].data), static_cast<vtkIdType>(n), 1);
        else
            arr->SetNumberOfTuples(0);
        dst->AddArray(arr);
    }
}

/* open/fsync/close: make the temp file's contents durable before the rename publishes it. */
ct_status fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot reopen for fsync: %s", path, std::strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL && err != EROFS) /* EINVAL/EROFS: file system without fsync */
        return ct_error_set(CT_ERR_IO, "%s: fsync failed: %s", path, std::strerror(err));
    return CT_OK;
}

ct_status write_vtu(const char *path, size_t n_points, const double *xyz_mm, size_t n_tets,
                    const int32_t *tets, size_t n_tris, const int32_t *tris,
                    const ct_vtk_field *point_fields, int n_point_fields,
                    const ct_vtk_field *cell_fields, int n_cell_fields)
{
    if (path == nullptr || path[0] == '\0')
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_write_vtu: path is NULL or empty");
    if ((n_points > 0 && xyz_mm == nullptr) || (n_tets > 0 && tets == nullptr) || (n_tris > 0 && tris == nullptr))
        return ct_error_set(CT_ERR_INTERNAL, "%s: points, tets or triangles array is NULL", path);
    if (n_points > static_cast<size_t>(INT32_MAX))
        return ct_error_set(CT_ERR_MESH, "%s: %zu points exceed the int32 index range", path, n_points);
    for (size_t t = 0; t < n_tets; ++t)
        for (int k = 0; k < 4; ++k) {
            int32_t v = tets[4 * t + k];
            if (v < 0 || static_cast<size_t>(v) >= n_points)
                return ct_error_set(CT_ERR_MESH, "%s: tet %zu corner %d: point index %d outside [0, %zu)",
                                    path, t, k, static_cast<int>(v), n_points);
        }
    for (size_t t = 0; t < n_tris; ++t)
        for (int k = 0; k < 3; ++k) {
            int32_t v = tris[3 * t + k];
            if (v < 0 || static_cast<size_t>(v) >= n_points)
                return ct_error_set(CT_ERR_MESH, "%s: triangle %zu corner %d: point index %d outside [0, %zu)",
                                    path, t, k, static_cast<int>(v), n_points);
        }
    CT_CHECK(check_fields(path, "point", point_fields, n_point_fields, n_points));
    CT_CHECK(check_fields(path, "cell", cell_fields, n_cell_fields, n_tets + n_tris));

    /* Build the grid. The caller's coordinates, tets (when there are no triangles) and double fields are lent
     * to VTK without a copy (SetArray with save = 1: VTK neither frees nor resizes them, and the writer only
     * reads them; they are borrowed for this call only), and the cells are stored as 32-bit indices wherever
     * they fit: a copy of the grid as 64-bit vtkIdType arrays was 2.5 times the mesh itself and decided the
     * peak memory of a run's post-processing (issue 15: 2.52 million tets, about 110 MB). */
    vtkNew<vtkUnstructuredGrid> grid;
    vtkNew<vtkDoubleArray> xyz;
    xyz->SetNumberOfComponents(3);
    if (n_points > 0)
        xyz->SetArray(const_cast<double *>(xyz_mm), static_cast<vtkIdType>(3 * n_points), 1);
    vtkNew<vtkPoints> points;
    points->SetData(xyz);
    grid->SetPoints(points);

    /* Tets first, then triangles (cells n_tets .. n_tets + n_tris - 1). */
    const size_t n_conn = 4 * n_tets + 3 * n_tris;
    vtkNew<vtkCellArray> cells;
    if (n_conn <= static_cast<size_t>(INT32_MAX)) {
        vtkNew<vtkTypeInt32Array> offsets, connectivity;
        offsets->SetNumberOfTuples(static_cast<vtkIdType>(n_tets + n_tris + 1));
        int32_t *off = offsets->GetPointer(0);
        for (size_t t = 0; t <= n_tets; ++t)
            off[t] = static_cast<int32_t>(4 * t);
        for (size_t t = 1; t <= n_tris; ++t)
            off[n_tets + t] = static_cast<int32_t>(4 * n_tets + 3 * t);
        if (n_tris == 0 && n_tets > 0) {
            connectivity->SetArray(const_cast<int32_t *>(tets), static_cast<vtkIdType>(n_conn), 1);
        } else {
            connectivity->SetNumberOfTuples(static_cast<vtkIdType>(n_conn));
            if (n_tets > 0)
                std::memcpy(connectivity->GetPointer(0), tets, 4 * n_tets * sizeof(int32_t));
            if (n_tris > 0)
                std::memcpy(connectivity->GetPointer(static_cast<vtkIdType>(4 * n_tets)), tris,
                            3 * n_tris * sizeof(int32_t));
        }
        cells->SetData(offsets, connectivity);
    } else {
        vtkNew<vtkIdTypeArray> offsets, connectivity;
        offsets->SetNumberOfTuples(static_cast<vtkIdType>(n_tets + n_tris + 1));
        connectivity->SetNumberOfTuples(static_cast<vtkIdType>(n_conn));
        for (size_t t = 0; t <= n_tets; ++t)
            offsets->SetValue(static_cast<vtkIdType>(t), static_cast<vtkIdType>(4 * t));
        for (size_t t = 1; t <= n_tris; ++t)
            offsets->SetValue(static_cast<vtkIdType>(n_tets + t), static_cast<vtkIdType>(4 * n_tets + 3 * t));
        for (size_t i = 0; i < 4 * n_tets; ++i)
            connectivity->SetValue(static_cast<vtkIdType>(i), tets[i]);
        for (size_t i = 0; i < 3 * n_tris; ++i)
            connectivity->SetValue(static_cast<vtkIdType>(4 * n_tets + i), tris[i]);
        cells->SetData(offsets, connectivity);
    }
    if (n_tris == 0) {
        grid->SetCells(VTK_TETRA, cells);
    } else {
        vtkNew<vtkUnsignedCharArray> types;
        types->SetNumberOfTuples(static_cast<vtkIdType>(n_tets + n_tris));
        for (size_t c = 0; c < n_tets + n_tris; ++c)
            types->SetValue(static_cast<vtkIdType>(c), c < n_tets ? VTK_TETRA : VTK_TRIANGLE);
        grid->SetCells(types, cells);
    }

    add_fields(grid->GetPointData(), point_fields, n_point_fields, n_points);
    add_fields(grid->GetCellData(), cell_fields, n_cell_fields, n_tets + n_tris);

    /* Write to PATH.tmp.<pid>, then rename over PATH. */
    const std::string tmp = std::string(path) + ".tmp." + std::to_string(static_cast<long>(getpid()));
    ct_vtk_error_capture errors;
    vtkNew<vtkXMLUnstructuredGridWriter> writer;
    errors.watch(writer);
    writer->SetFileName(tmp.c_str());
    writer->SetInputData(grid);
    writer->SetDataModeToAppended();
    writer->EncodeAppendedDataOff(); /* raw binary, not base64 */
    writer->SetCompressorTypeToZLib();
    writer->SetHeaderTypeToUInt64(); /* blocks > 4 GiB stay addressable */

    const int ok = writer->Write();
    const unsigned long code = writer->GetErrorCode();
    if (ok != 1 || code != vtkErrorCode::NoError || !errors.text.empty()) {
        int saved_errno = errno;
        std::remove(tmp.c_str());
        const char *why = code != vtkErrorCode::NoError ? vtkErrorCode::GetStringFromErrorCode(code)
                                                         : std::strerror(saved_errno);
        return ct_error_set(CT_ERR_IO, "%s: cannot write (temp file %s): %s: %s", path, tmp.c_str(), why,
                            errors.or_else("VTK writer failed"));
    }
    ct_status s = fsync_file(tmp.c_str());
    if (s != CT_OK) {
        std::remove(tmp.c_str());
        return s;
    }
    if (std::rename(tmp.c_str(), path) != 0) {
        int err = errno;
        std::remove(tmp.c_str());
        return ct_error_set(CT_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp.c_str(),
                            std::strerror(err));
    }
    return CT_OK;
}

/* Runs `body` and maps any escaping C++ exception onto a ct_status. */
template <class F> ct_status guarded(const char *what, const char *path, F body)
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        /* Reading, VTK allocates what the file declares: a corrupt size field ends here too. */
        return ct_error_set(CT_ERR_NOMEM, "%s: %s: out of memory%s", path ? path : "(null)", what,
                            std::strncmp(what, "reading", 7) == 0 ? " (or a corrupt file declaring more data than "
                                                                    "fits in memory)" : "");
    } catch (const std::exception &e) {
        return ct_error_set(CT_ERR_INTERNAL, "%s: %s: C++ exception: %s", path ? path : "(null)", what,
                            e.what());
    } catch (...) {
        return ct_error_set(CT_ERR_INTERNAL, "%s: %s: unknown C++ exception", path ? path : "(null)", what);
    }
}

} // namespace

/* ---- the grid read back ----------------------------------------------------------------------- */

struct ct_vtk_grid {
    struct field {
        std::string name;
        int n_components;
        std::vector<double> data;
    };
    std::string path;
    std::vector<double> points;
    std::vector<int32_t> tets;
    std::vector<int32_t> tris;       /* 3 per VTK_TRIANGLE cell */
    std::vector<size_t> tri_cells;   /* cell index in the file of each triangle */
    std::vector<field> point_fields, cell_fields; /* cell_fields: the tets' values only */
    std::vector<field> tri_fields;   /* the same cell arrays, the triangles' values */
};

namespace {

void copy_fields(vtkFieldData *src, std::vector<ct_vtk_grid::field> &dst)
{
    for (int i = 0; i < src->GetNumberOfArrays(); ++i) {
        vtkDataArray *a = vtkDataArray::SafeDownCast(src->GetAbstractArray(i));
        if (a == nullptr || a->GetName() == nullptr) /* string / unnamed arrays are not fields */
            continue;
        ct_vtk_grid::field f;
        f.name = a->GetName();
        f.n_components = a->GetNumberOfComponents();
        const vtkIdType n_tuples = a->GetNumberOfTuples();
        f.data.resize(static_cast<size_t>(n_tuples) * static_cast<size_t>(f.n_components));
        for (vtkIdType t = 0; t < n_tuples; ++t)
            for (int c = 0; c < f.n_components; ++c)
                f.data[static_cast<size_t>(t) * f.n_components + c] = a->GetComponent(t, c);
        dst.push_back(std::move(f));
    }
}

/* The .vtu reader, with two VTK 9.1 bugs worked around; both crash on malformed files:
 *  - vtkXMLDataReader::ReadPieceData hands a NULL array to ReadArrayForPoints/ReadArrayForCells when a
 *    <PointData>/<CellData> element holds a DataArray for which no array was set up (no Name, say);
 *  - when a cell data array cannot be read (too short, truncated or corrupt data), it reports this with
 *    a message that dereferences the piece's <PointData> element, which files with cell fields only
 *    (as meshio writes them) do not have.
 * Such failures are recorded here instead and VTK is told the array was read; read_vtu then rejects
 * the file, naming the array.
 * A third bug writes past the end of the heap: VTK sizes each array from counts the file declares
 * (NumberOfPoints, NumberOfCells, the last entry of "offsets" for the connectivity) with unchecked
 * multiplications, so a huge count wraps to a small allocation, and the data read then fills it with
 * as many bytes as the block holds (found by fuzz_vtu: one flipped byte in the last offset). Every
 * read of values goes through ReadArrayValues, so it is checked there: the count must fit the array
 * VTK actually allocated, and no file can hold more values than it has bytes (1 byte is the smallest
 * value, raw; compressed blocks expand at most 65536-fold here, far beyond zlib, LZ4 or LZMA in VTK's
 * 32 KiB blocks), which keeps every byte count far from wrapping. */
class ct_vtu_reader : public vtkXMLUnstructuredGridReader {
public:
    static ct_vtu_reader *New();
    vtkTypeMacro(ct_vtu_reader, vtkXMLUnstructuredGridReader);
    std::string bad_array; /* the first point/cell data array VTK could not read; "" if none */
    std::string bad_count; /* the first array whose declared size is impossible; "" if none */
    long long file_bytes = 0; /* size of the file being read, set before Update() */

protected:
    /* Counts are checked per piece, before VTK allocates anything from them. */
    int ReadPiece(vtkXMLDataElement *piece) override
    {
        const char *counts[2] = {"NumberOfPoints", "NumberOfCells"};
        for (int k = 0; k < 2; ++k) {
            vtkIdType n = 0;
            if (piece->GetScalarAttribute(counts[k], n)) {
                total[k] = n < 0 || n > max_values() - total[k] ? -1 : total[k] + n;
                if (total[k] < 0)
                    return refuse(std::string(counts[k]) + "=\"" + piece->GetAttribute(counts[k]) +
                                  "\" is more than a file of " + std::to_string(file_bytes) + " bytes can hold");
            }
        }
        /* Point and cell data arrays get NumberOfComponents values per point or cell. */
        const char *sections[2] = {"PointData", "CellData"};
        for (int k = 0; k < 2; ++k) {
            vtkXMLDataElement *section = piece->FindNestedElementWithName(sections[k]);
            for (int i = 0; section && i < section->GetNumberOfNestedElements(); ++i) {
                vtkXMLDataElement *da = section->GetNestedElement(i);
                int comps = 1;
                if (da->GetScalarAttribute("NumberOfComponents", comps) &&
                    (comps < 1 || (total[k] > 0 && comps > max_values() / total[k]))) {
                    const char *name = da->GetAttribute("Name");
                    return refuse(std::string(k ? "cell" : "point") + " data array \"" + (name ? name : "(unnamed)") +
                                  "\": NumberOfComponents=\"" + std::to_string(comps) + "\" is out of range [1, " +
                                  std::to_string(total[k] > 0 ? max_values() / total[k] : max_values()) + "]");
                }
            }
        }
        return Superclass::ReadPiece(piece);
    }
    int ReadArrayValues(vtkXMLDataElement *da, vtkIdType array_index, vtkAbstractArray *array,
                        vtkIdType start_index, vtkIdType n_values, FieldType type) override
    {
        const vtkIdType held = array ? array->GetNumberOfValues() : 0;
        if (n_values < 0 || array_index < 0 || start_index < 0 || n_values > max_values() ||
            array_index > held - n_values || (n_values > 0 && array->GetVoidPointer(0) == nullptr)) {
            const char *name = da ? da->GetAttribute("Name") : nullptr;
            vtkXMLDataElement *parent = da ? da->GetParent() : nullptr;
            std::string what = std::string("data array \"") +
                               (name ? name : parent && parent->GetName() ? parent->GetName() : "(unnamed)") +
                               "\"";
            return refuse(what + " declares " + (n_values < 0 ? "more than 2^63" : std::to_string(n_values)) +
                          " values, more than a file of " + std::to_string(file_bytes) +
                          " bytes can hold or than could be allocated (corrupt NumberOfPoints, NumberOfCells, "
                          "NumberOfComponents or \"offsets\")");
        }
        return Superclass::ReadArrayValues(da, array_index, array, start_index, n_values, type);
    }
    int ReadArrayForPoints(vtkXMLDataElement *da, vtkAbstractArray *out_array) override
    {
        if (out_array == nullptr)
            return note_bad("point", da);
        return Superclass::ReadArrayForPoints(da, out_array); /* its failure message is safe */
    }
    int ReadArrayForCells(vtkXMLDataElement *da, vtkAbstractArray *out_array) override
    {
        if (out_array == nullptr || !Superclass::ReadArrayForCells(da, out_array))
            return note_bad("cell", da);
        return 1;
    }

private:
    vtkIdType total[2] = {0, 0}; /* points and cells declared by the pieces so far */

    vtkIdType max_values() const
    {
        const long long expand = this->XMLParser && this->XMLParser->GetCompressor() ? 65536 : 1;
        return file_bytes > LLONG_MAX / expand ? LLONG_MAX : file_bytes * expand;
    }
    int refuse(const std::string &problem)
    {
        if (bad_count.empty())
            bad_count = problem;
        return 0;
    }
    int note_bad(const char *kind, vtkXMLDataElement *da)
    {
        if (bad_array.empty()) {
            const char *name = da ? da->GetAttribute("Name") : nullptr;
            bad_array = std::string(kind) + " data array \"" + (name ? name : "(unnamed)") + "\"";
        }
        return 1;
    }
};
vtkStandardNewMacro(ct_vtu_reader);

ct_status read_vtu(const char *path, ct_vtk_grid **out)
{
    if (out == nullptr || path == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_read_vtu: NULL argument");
    *out = nullptr;

    /* Check existence ourselves: VTK's message for a missing file is vague. */
    struct stat st;
    if (stat(path, &st) != 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        return ct_error_set(CT_ERR_IO, "%s: is a directory, not a .vtu file", path);
    FILE *probe = std::fopen(path, "rb");
    if (probe == nullptr)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    std::fclose(probe);

    ct_vtk_error_capture errors;
    vtkNew<ct_vtu_reader> reader;
    errors.watch(reader);
    reader->SetReaderErrorObserver(errors.command);
    reader->SetParserErrorObserver(errors.command);
    if (!reader->CanReadFile(path))
        return ct_error_set(CT_ERR_PARSE, "%s: not a VTK XML UnstructuredGrid (.vtu) file%s%s", path,
                            errors.text.empty() ? "" : ": ", errors.text.c_str());
    reader->SetFileName(path);
    reader->file_bytes = static_cast<long long>(st.st_size);
    reader->Update();
    if (!reader->bad_count.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read: %s", path, reader->bad_count.c_str());
    const unsigned long code = reader->GetErrorCode();
    vtkUnstructuredGrid *ug = reader->GetOutput();
    if (code != vtkErrorCode::NoError || !errors.text.empty() || ug == nullptr)
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read: %s", path,
                            errors.or_else(vtkErrorCode::GetStringFromErrorCode(code)));
    if (!reader->bad_array.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read %s: it has no or a duplicate Name, fewer values "
                            "than NumberOfPoints/NumberOfCells x NumberOfComponents, or truncated or corrupt "
                            "data", path, reader->bad_array.c_str());

    const vtkIdType n_points = ug->GetNumberOfPoints();
    const vtkIdType n_cells = ug->GetNumberOfCells();
    if (n_points > INT32_MAX)
        return ct_error_set(CT_ERR_MESH, "%s: %lld points exceed the int32 index range", path,
                            static_cast<long long>(n_points));

    std::unique_ptr<ct_vtk_grid> g(new ct_vtk_grid);
    g->path = path;
    g->points.resize(3 * static_cast<size_t>(n_points));
    for (vtkIdType i = 0; i < n_points; ++i)
        ug->GetPoint(i, &g->points[3 * static_cast<size_t>(i)]);

    /* n_cells is bounded by the file's size (ct_vtu_reader::ReadPiece), so these reservations are too. */
    g->tets.reserve(4 * static_cast<size_t>(n_cells));
    std::vector<char> is_tri(static_cast<size_t>(n_cells), 0);
    vtkNew<vtkIdList> ids;
    for (vtkIdType c = 0; c < n_cells; ++c) {
        const int type = ug->GetCellType(c);
        if (type != VTK_TETRA && type != VTK_TRIANGLE) {
            const char *type_name = vtkCellTypes::GetClassNameFromTypeId(type);
            return ct_error_set(CT_ERR_MESH, "%s: cell %lld is a %s (VTK type %d), only linear tetrahedra "
                                "(VTK_TETRA = %d) and boundary triangles (VTK_TRIANGLE = %d) are supported", path,
                                static_cast<long long>(c), type_name ? type_name : "unknown cell", type, VTK_TETRA,
                                VTK_TRIANGLE);
        }
        const int corners = type == VTK_TETRA ? 4 : 3;
        const char *what = type == VTK_TETRA ? "tetrahedron" : "triangle";
        ug->GetCellPoints(c, ids);
        if (ids->GetNumberOfIds() != corners)
            return ct_error_set(CT_ERR_MESH, "%s: %s %lld has %lld points, expected %d", path, what,
                                static_cast<long long>(c), static_cast<long long>(ids->GetNumberOfIds()), corners);
        for (int k = 0; k < corners; ++k) {
            const vtkIdType v = ids->GetId(k);
            if (v < 0 || v >= n_points)
                return ct_error_set(CT_ERR_MESH, "%s: %s %lld corner %d: point index %lld outside "
                                    "[0, %lld)", path, what, static_cast<long long>(c), k,
                                    static_cast<long long>(v), static_cast<long long>(n_points));
            (type == VTK_TETRA ? g->tets : g->tris).push_back(static_cast<int32_t>(v));
        }
        if (type == VTK_TRIANGLE) {
            g->tri_cells.push_back(static_cast<size_t>(c));
            is_tri[static_cast<size_t>(c)] = 1;
        }
    }
    copy_fields(ug->GetPointData(), g->point_fields);
    copy_fields(ug->GetCellData(), g->cell_fields);
    /* Every array must hold one tuple per point (cell) before its values are indexed by point (cell). */
    for (const auto &f : g->point_fields)
        if (f.data.size() != static_cast<size_t>(n_points) * static_cast<size_t>(f.n_components))
            return ct_error_set(CT_ERR_PARSE, "%s: point data array \"%s\" holds %zu values, expected %lld x %d",
                                path, f.name.c_str(), f.data.size(), static_cast<long long>(n_points),
                                f.n_components);
    for (const auto &f : g->cell_fields)
        if (f.data.size() != static_cast<size_t>(n_cells) * static_cast<size_t>(f.n_components))
            return ct_error_set(CT_ERR_PARSE, "%s: cell data array \"%s\" holds %zu values, expected %lld x %d",
                                path, f.name.c_str(), f.data.size(), static_cast<long long>(n_cells),
                                f.n_components);
    /* With triangles among the cells, split each cell array: the tets' rows stay, in order, in
     * cell_fields; the triangles' rows go to tri_fields. */
    if (!g->tri_cells.empty())
        for (auto &f : g->cell_fields) {
            ct_vtk_grid::field tf;
            tf.name = f.name;
            tf.n_components = f.n_components;
            const size_t nc = static_cast<size_t>(f.n_components);
            size_t kept = 0;
            for (size_t c = 0; c < static_cast<size_t>(n_cells); ++c) {
                if (is_tri[c]) {
                    tf.data.insert(tf.data.end(), f.data.begin() + c * nc, f.data.begin() + (c + 1) * nc);
                } else {
                    std::copy(f.data.begin() + c * nc, f.data.begin() + (c + 1) * nc, f.data.begin() + kept * nc);
                    ++kept;
                }
            }
            f.data.resize(kept * nc);
            g->tri_fields.push_back(std::move(tf));
        }
    *out = g.release();
    return CT_OK;
}

ct_status find_field(const ct_vtk_grid *g, const std::vector<ct_vtk_grid::field> &fields,
                     const char *kind, const char *name, const double **data, int *n_components)
{
    if (name == nullptr || data == nullptr || n_components == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_%s_field: NULL argument", kind);
    for (const auto &f : fields)
        if (f.name == name) {
            *data = f.data.data();
            *n_components = f.n_components;
            return CT_OK;
        }
    return ct_error_set(CT_ERR_PARSE, "%s: no %s field named \"%s\"", g->path.c_str(), kind, name);
}

} // namespace

/* ---- C entry points --------------------------------------------------------------------------- */

extern "C" ct_status ct_vtk_write_vtu(const char *path, size_t n_points, const double *xyz_mm,
                                      size_t n_tets, const int32_t *tets,
                                      const ct_vtk_field *point_fields, int n_point_fields,
                                      const ct_vtk_field *cell_fields, int n_cell_fields)
{
    return guarded("writing .vtu", path, [&] {
        return write_vtu(path, n_points, xyz_mm, n_tets, tets, 0, nullptr, point_fields, n_point_fields,
                         cell_fields, n_cell_fields);
    });
}

extern "C" ct_status ct_vtk_write_vtu_tris(const char *path, size_t n_points, const double *xyz_mm,
                                           size_t n_tets, const int32_t *tets, size_t n_tris,
                                           const int32_t *tris, const ct_vtk_field *point_fields,
                                           int n_point_fields, const ct_vtk_field *cell_fields,
                                           int n_cell_fields)
{
    return guarded("writing .vtu", path, [&] {
        return write_vtu(path, n_points, xyz_mm, n_tets, tets, n_tris, tris, point_fields, n_point_fields,
                         cell_fields, n_cell_fields);
    });
}

extern "C" ct_status ct_vtk_read_vtu(const char *path, ct_vtk_grid **out)
{
    if (out != nullptr)
        *out = nullptr;
    return guarded("reading .vtu", path, [&] { return read_vtu(path, out); });
}

extern "C" void ct_vtk_grid_destroy(ct_vtk_grid *g) { delete g; }

extern "C" size_t ct_vtk_grid_n_points(const ct_vtk_grid *g) { return g->points.size() / 3; }
extern "C" size_t ct_vtk_grid_n_tets(const ct_vtk_grid *g) { return g->tets.size() / 4; }
extern "C" const double *ct_vtk_grid_points(const ct_vtk_grid *g) { return g->points.data(); }
extern "C" const int32_t *ct_vtk_grid_tets(const ct_vtk_grid *g) { return g->tets.data(); }
extern "C" size_t ct_vtk_grid_n_tris(const ct_vtk_grid *g) { return g->tris.size() / 3; }
extern "C" const int32_t *ct_vtk_grid_tris(const ct_vtk_grid *g) { return g->tris.data(); }
extern "C" size_t ct_vtk_grid_tri_cell(const ct_vtk_grid *g, size_t t) { return g->tri_cells[t]; }

extern "C" ct_status ct_vtk_grid_point_field(const ct_vtk_grid *g, const char *name, const double **data,
                                             int *n_components)
{
    if (g == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_point_field: grid is NULL");
    return guarded("looking up point field", g->path.c_str(), [&] {
        return find_field(g, g->point_fields, "point", name, data, n_components);
    });
}

extern "C" ct_status ct_vtk_grid_cell_field(const ct_vtk_grid *g, const char *name, const double **data,
                                            int *n_components)
{
    if (g == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_cell_field: grid is NULL");
    return guarded("looking up cell field", g->path.c_str(), [&] {
        return find_field(g, g->cell_fields, "cell", name, data, n_components);
    });
}

extern "C" ct_status ct_vtk_grid_tri_field(const ct_vtk_grid *g, const char *name, const double **data,
                                           int *n_components)
{
    if (g == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_tri_field: grid is NULL");
    return guarded("looking up cell field", g->path.c_str(), [&] {
        if (g->tri_cells.empty())
            return ct_error_set(CT_ERR_PARSE, "%s: no triangle cells, so no triangle values of cell field \"%s\"",
                                g->path.c_str(), name ? name : "(null)");
        return find_field(g, g->tri_fields, "cell", name, data, n_components);
    });
}

/* ---- images ----------------------------------------------------------------------------------------
 * VTK reads the voxels; the placement comes from the header. NIfTI's matrices are VTK's (qform/sform as
 * vtkNIFTIImageReader hands them over, with the slice flip for qfac = -1 already applied); MetaImage
 * and NRRD headers are parsed here, since VTK 9.1's readers keep only spacing and origin of them. */

#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkImageData.h>
#include <vtkImageReader2.h>
#include <vtkInformation.h>
#include <vtkMatrix3x3.h>
#include <vtkMatrix4x4.h>
#include <vtkMetaImageReader.h>
#include <vtkNIFTIImageHeader.h>
#include <vtkNIFTIImageReader.h>
#include <vtkNIFTIImageWriter.h>
#include <vtkPolyData.h>
#include <vtkPolyDataConnectivityFilter.h>
#include <vtkQuadricDecimation.h>
#include <vtkStreamingDemandDrivenPipeline.h>
#include <vtkUnsignedCharArray.h>
#include <vtkUnsignedShortArray.h>
#include <vtkFloatArray.h>
#include <vtkWindowedSincPolyDataFilter.h>
#include <vtkXMLImageDataReader.h>
#include <vtkXMLImageDataWriter.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <zlib.h>

extern "C" {
#include "core/ct_files.h"
#include "../image/ct_image.h"
}

namespace {

std::string lower(std::string s)
{
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool ends_with(const std::string &s, const char *suffix)
{
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

enum image_format { IMG_UNKNOWN, IMG_NIFTI, IMG_META, IMG_NRRD, IMG_VTI };

image_format image_format_of(const char *path)
{
    const std::string p = lower(path);
    if (ends_with(p, ".nii") || ends_with(p, ".nii.gz"))
        return IMG_NIFTI;
    if (ends_with(p, ".mha") || ends_with(p, ".mhd"))
        return IMG_META;
    if (ends_with(p, ".nrrd") || ends_with(p, ".nhdr"))
        return IMG_NRRD;
    if (ends_with(p, ".vti"))
        return IMG_VTI;
    return IMG_UNKNOWN;
}

/* The text header of a MetaImage or NRRD file: lines up to the data (MetaImage: the ElementDataFile line;
 * NRRD: the first empty line), at most 64 KiB. */
std::vector<std::string> header_lines(const char *path, bool nrrd)
{
    std::vector<std::string> lines;
    std::ifstream in(path, std::ios::binary);
    std::string line;
    size_t total = 0;
    while (total < 65536 && std::getline(in, line)) {
        total += line.size() + 1;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (nrrd && line.empty())
            break;
        lines.push_back(line);
        if (!nrrd && lower(line).compare(0, 15, "elementdatafile") == 0)
            break;
    }
    return lines;
}

/* Numbers in `text`, parentheses and commas read as spaces ("(1,0,0) (0,1,0)" -> 1 0 0 0 1 0). */
std::vector<double> numbers_in(const std::string &text)
{
    std::string t = text;
    for (char &c : t)
        if (c == '(' || c == ')' || c == ',')
            c = ' ';
    std::istringstream is(t);
    std::vector<double> v;
    std::string tok;
    while (is >> tok) {
        char *end = nullptr;
        double x = std::strtod(tok.c_str(), &end);
        if (end == tok.c_str() || *end != '\0')
            return {}; /* "none" or another word: not a list of numbers */
        v.push_back(x);
    }
    return v;
}

/* Value of "key = value" (MetaImage) or "key: value" (NRRD), key case-insensitive; false if absent. */
bool header_value(const std::vector<std::string> &lines, const char *key, bool nrrd, std::string *value)
{
    const std::string k = lower(key);
    for (const std::string &line : lines) {
        const size_t sep = line.find(nrrd ? ':' : '=');
        if (sep == std::string::npos || (nrrd && sep + 1 < line.size() && line[sep + 1] == '='))
            continue;
        std::string name = line.substr(0, sep);
        while (!name.empty() && name.back() == ' ')
            name.pop_back();
        while (!name.empty() && name.front() == ' ')
            name.erase(0, 1);
        if (lower(name) != k)
            continue;
        *value = line.substr(sep + 1);
        while (!value->empty() && value->front() == ' ')
            value->erase(0, 1);
        return true;
    }
    return false;
}

/* Axis directions (columns: axis i, j, k) and origin of the voxel (0,0,0) centre from a MetaImage or
 * NRRD header; spacing multiplies the directions for MetaImage (NRRD's directions carry it already). */
ct_status parse_placement(const char *path, image_format fmt, const double spacing[3], double a[3][4],
                          char frame[4])
{
    const bool nrrd = fmt == IMG_NRRD;
    const std::vector<std::string> lines = header_lines(path, nrrd);
    double dir[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}; /* dir[axis][component] */
    double org[3] = {0, 0, 0};
    bool dirs_carry_spacing = false;
    std::string v;
    if (!nrrd) {
        std::snprintf(frame, 4, "LPS"); /* ITK's MetaImage world frame */
        for (const char *key : {"TransformMatrix", "Orientation", "Rotation"})
            if (header_value(lines, key, false, &v)) {
                std::vector<double> m = numbers_in(v);
                if (m.size() != 9)
                    return ct_error_set(CT_ERR_PARSE, "%s: header %s holds %zu numbers, expected 9", path, key,
                                        m.size());
                for (int ax = 0; ax < 3; ++ax)
                    for (int c = 0; c < 3; ++c)
                        dir[ax][c] = m[3 * ax + c];
                break;
            }
        for (const char *key : {"Offset", "Position", "Origin"})
            if (header_value(lines, key, false, &v)) {
                std::vector<double> o = numbers_in(v);
                if (o.size() != 3)
                    return ct_error_set(CT_ERR_PARSE, "%s: header %s holds %zu numbers, expected 3", path, key,
                                        o.size());
                std::copy(o.begin(), o.end(), org);
                break;
            }
    } else {
        frame[0] = '\0';
        if (header_value(lines, "space", true, &v)) {
            const std::string s = lower(v);
            if (s == "left-posterior-superior" || s == "lps")
                std::snprintf(frame, 4, "LPS");
            else if (s == "right-anterior-superior" || s == "ras")
                std::snprintf(frame, 4, "RAS");
            else
                return ct_error_set(CT_ERR_CONFIG, "%s: NRRD space \"%s\" is not supported (expected "
                                    "left-posterior-superior or right-anterior-superior)", path, v.c_str());
        }
        if (header_value(lines, "space directions", true, &v)) {
            std::vector<double> m = numbers_in(v);
            if (m.size() != 9)
                return ct_error_set(CT_ERR_PARSE, "%s: \"space directions\" must be three vectors of 3 numbers "
                                    "(a 3-D scalar image), got \"%s\"", path, v.c_str());
            for (int ax = 0; ax < 3; ++ax)
                for (int c = 0; c < 3; ++c)
                    dir[ax][c] = m[3 * ax + c];
            dirs_carry_spacing = true;
        }
        if (header_value(lines, "space origin", true, &v)) {
            std::vector<double> o = numbers_in(v);
            if (o.size() != 3)
                return ct_error_set(CT_ERR_PARSE, "%s: \"space origin\" must hold 3 numbers, got \"%s\"", path,
                                    v.c_str());
            std::copy(o.begin(), o.end(), org);
        }
    }
    for (int r = 0; r < 3; ++r) {
        for (int ax = 0; ax < 3; ++ax)
            a[r][ax] = dir[ax][r] * (dirs_carry_spacing ? 1.0 : spacing[ax]);
        a[r][3] = org[r];
    }
    return CT_OK;
}

/* NRRD, read here: VTK 9.1's vtkNrrdReader drops an axis of files with "space directions". Attached data
 * (after the header's blank line), encodings raw and gzip, scalar types of 1 to 8 bytes, either endianness.
 * Hand-written: about 80 lines that no packaged library provides (ITK's reader is not in Debian's VTK). */
/* The whole file as bytes, through ct_read_file (host/core/ct_files.h), whose errors name the file. */
ct_status read_whole_file(const char *path, std::string *data)
{
    char *buf = nullptr;
    size_t len = 0;
    CT_CHECK(ct_read_file(path, &buf, &len));
    data->assign(buf, len);
    std::free(buf);
    return CT_OK;
}

ct_status read_nrrd(const char *path, size_t max_bytes, ct_image **out)
{
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    if (!std::getline(in, magic) || magic.compare(0, 4, "NRRD") != 0)
        return ct_error_set(CT_ERR_PARSE, "%s: not a NRRD file (no \"NRRD000N\" magic line)", path);
    const std::vector<std::string> lines = header_lines(path, true);
    std::string v;
    auto need = [&](const char *key) -> ct_status {
        if (!header_value(lines, key, true, &v))
            return ct_error_set(CT_ERR_PARSE, "%s: the NRRD header has no \"%s\" field", path, key);
        return CT_OK;
    };
    CT_CHECK(need("dimension"));
    const int dim = std::atoi(v.c_str());
    if (dim != 3)
        return ct_error_set(CT_ERR_CONFIG, "%s: a %d-D NRRD image: a segmentation must be 3-D", path, dim);
    CT_CHECK(need("sizes"));
    std::vector<double> sz = numbers_in(v);
    if (sz.size() != 3)
        return ct_error_set(CT_ERR_PARSE, "%s: NRRD sizes \"%s\" must be 3 numbers", path, v.c_str());
    int dims[3];
    for (int d = 0; d < 3; ++d) {
        if (!(sz[d] >= 1 && sz[d] <= 1e9))
            return ct_error_set(CT_ERR_PARSE, "%s: NRRD size %g along axis %d", path, sz[d], d);
        dims[d] = static_cast<int>(sz[d]);
        if (dims[d] < 2)
            return ct_error_set(CT_ERR_CONFIG, "%s: the image is %d x %d x %d voxels: a segmentation must be 3-D (at "
                                "least 2 voxels along each axis)", path, static_cast<int>(sz[0]), static_cast<int>(sz[1]),
                                static_cast<int>(sz[2]));
    }
    CT_CHECK(need("type"));
    const std::string t = lower(v);
    int bytes = 0, is_float = 0, is_signed = 0;
    if (t == "uchar" || t == "uint8" || t == "unsigned char" || t == "uint8_t") bytes = 1;
    else if (t == "signed char" || t == "int8" || t == "int8_t") bytes = 1, is_signed = 1;
    else if (t == "ushort" || t == "uint16" || t == "unsigned short" || t == "uint16_t") bytes = 2;
    else if (t == "short" || t == "int16" || t == "signed short" || t == "int16_t") bytes = 2, is_signed = 1;
    else if (t == "uint" || t == "uint32" || t == "unsigned int" || t == "uint32_t") bytes = 4;
    else if (t == "int" || t == "int32" || t == "signed int" || t == "int32_t") bytes = 4, is_signed = 1;
    else if (t == "float") bytes = 4, is_float = 1;
    else if (t == "double") bytes = 8, is_float = 1;
    else
        return ct_error_set(CT_ERR_CONFIG, "%s: NRRD type \"%s\" is not supported", path, v.c_str());
    CT_CHECK(need("encoding"));
    const std::string enc = lower(v);
    if (enc != "raw" && enc != "gzip" && enc != "gz")
        return ct_error_set(CT_ERR_CONFIG, "%s: NRRD encoding \"%s\" is not supported (raw or gzip)", path, v.c_str());
    if (header_value(lines, "data file", true, &v) || header_value(lines, "datafile", true, &v))
        return ct_error_set(CT_ERR_CONFIG, "%s: detached NRRD data (\"data file\") is not supported: use one .nrrd file",
                            path);
    bool big = header_value(lines, "endian", true, &v) && lower(v) == "big";
    const size_t n = static_cast<size_t>(dims[0]) * dims[1] * dims[2];
    const double need_bytes = static_cast<double>(n) * (4.0 + bytes);
    if (need_bytes > static_cast<double>(max_bytes))
        return ct_error_set(CT_ERR_CONFIG, "%s: %d x %d x %d voxels would need %.1f GiB of memory to read, more than the "
                            "limit of %.1f GiB (crop or resample the image, or raise max_memory_gib)", path, dims[0],
                            dims[1], dims[2], need_bytes / 1073741824.0, static_cast<double>(max_bytes) / 1073741824.0);
    /* the data start after the first empty line */
    std::string all;
    CT_CHECK(read_whole_file(path, &all));
    size_t start = all.find("\n\n");
    size_t skip = 2;
    if (start == std::string::npos) {
        start = all.find("\r\n\r\n");
        skip = 4;
    }
    if (start == std::string::npos)
        return ct_error_set(CT_ERR_PARSE, "%s: no blank line ends the NRRD header", path);
    const unsigned char *src = reinterpret_cast<const unsigned char *>(all.data()) + start + skip;
    size_t avail = all.size() - start - skip;
    std::vector<unsigned char> raw;
    if (enc != "raw") {
        raw.resize(n * bytes);
        z_stream zs;
        std::memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, 15 + 32) != Z_OK)
            return ct_error_set(CT_ERR_NOMEM, "%s: cannot start zlib", path);
        zs.next_in = const_cast<unsigned char *>(src);
        zs.avail_in = static_cast<uInt>(std::min<size_t>(avail, UINT_MAX));
        zs.next_out = raw.data();
        zs.avail_out = static_cast<uInt>(raw.size());
        int rc = inflate(&zs, Z_FINISH);
        size_t got = raw.size() - zs.avail_out;
        inflateEnd(&zs);
        if ((rc != Z_STREAM_END && rc != Z_BUF_ERROR && rc != Z_OK) || got != raw.size())
            return ct_error_set(CT_ERR_PARSE, "%s: the gzip data hold %zu of the %zu bytes the header declares", path, got,
                                raw.size());
        src = raw.data();
        avail = raw.size();
    }
    if (avail < n * bytes)
        return ct_error_set(CT_ERR_PARSE, "%s: the data hold %zu bytes, the header declares %zu", path, avail, n * bytes);
    double spacing[3] = {1, 1, 1};
    if (header_value(lines, "spacings", true, &v)) {
        std::vector<double> sp = numbers_in(v);
        if (sp.size() == 3)
            std::copy(sp.begin(), sp.end(), spacing);
    }
    double a[3][4];
    char frame[4] = "";
    CT_CHECK(parse_placement(path, IMG_NRRD, spacing, a, frame));
    ct_image *img = nullptr;
    ct_status st = ct_image_create(dims, a, &img);
    if (st != CT_OK)
        return ct_error_set(st, "%s: %s", path, ct_error_message());
    std::snprintf(img->frame, sizeof img->frame, "%s", frame);
    for (size_t i = 0; i < n; ++i) {
        unsigned char b[8];
        for (int k = 0; k < bytes; ++k)
            b[k] = src[i * bytes + (big ? bytes - 1 - k : k)]; /* to little-endian */
        double x;
        if (is_float && bytes == 4) { float f; std::memcpy(&f, b, 4); x = f; }
        else if (is_float) { double d; std::memcpy(&d, b, 8); x = d; }
        else {
            uint64_t u = 0;
            for (int k = bytes - 1; k >= 0; --k)
                u = (u << 8) | b[k];
            if (is_signed && (u >> (8 * bytes - 1)))
                x = static_cast<double>(static_cast<int64_t>(u) - (static_cast<int64_t>(1) << (8 * bytes)));
            else
                x = static_cast<double>(u);
        }
        if (!std::isfinite(x)) {
            ct_image_destroy(img);
            return ct_error_set(CT_ERR_PARSE, "%s: voxel %zu holds a value that is not a finite number", path, i);
        }
        img->value[i] = static_cast<float>(x);
    }
    *out = img;
    return CT_OK;
}

/* A NIfTI-1 header checked field by field before VTK sees the file: vtkNIFTIImageReader (9.1) trusts it
 * and a fuzzed header crashed it (fuzz/corpus/image/regress_*). Only single-file NIfTI-1 is accepted. */
ct_status check_nifti_header(const char *path, size_t max_bytes)
{
    unsigned char h[348];
    gzFile f = gzopen(path, "rb");
    if (f == nullptr)
        return ct_error_set(CT_ERR_IO, "%s: cannot read: %s", path, std::strerror(errno));
    const int got = gzread(f, h, sizeof h);
    gzclose(f);
    if (got != static_cast<int>(sizeof h))
        return ct_error_set(CT_ERR_PARSE, "%s: %d bytes: shorter than a NIfTI-1 header (348 bytes)", path, got < 0 ? 0 : got);
    int32_t sizeof_hdr;
    std::memcpy(&sizeof_hdr, h, 4);
    const bool swap = sizeof_hdr != 348;
    auto rd = [&](int off, int n, void *dst) {
        unsigned char b[8];
        for (int k = 0; k < n; ++k)
            b[k] = h[off + (swap ? n - 1 - k : k)];
        std::memcpy(dst, b, static_cast<size_t>(n));
    };
    if (swap) {
        rd(0, 4, &sizeof_hdr);
        if (sizeof_hdr != 348)
            return ct_error_set(CT_ERR_PARSE, "%s: not a NIfTI-1 file (header size field %d, expected 348; NIfTI-2 and "
                                "Analyze files are not read: convert to NIfTI-1)", path, static_cast<int>(sizeof_hdr));
    }
    if (std::memcmp(h + 344, "n+1\0", 4) != 0)
        return ct_error_set(CT_ERR_PARSE, "%s: not a single-file NIfTI-1 image (magic is not \"n+1\"; .hdr/.img pairs "
                                          "and Analyze files are not read)", path);
    int16_t dim[8], datatype, bitpix, qcode, scode;
    for (int k = 0; k < 8; ++k)
        rd(40 + 2 * k, 2, &dim[k]);
    rd(70, 2, &datatype);
    rd(72, 2, &bitpix);
    rd(252, 2, &qcode);
    rd(254, 2, &scode);
    float pixdim[8], vox_offset, f4;
    for (int k = 0; k < 8; ++k)
        rd(76 + 4 * k, 4, &pixdim[k]);
    rd(108, 4, &vox_offset);
    if (dim[0] < 2 || dim[0] > 7)
        return ct_error_set(CT_ERR_PARSE, "%s: NIfTI dim[0] = %d (the number of dimensions must be 1 to 7)", path, dim[0]);
    for (int k = 1; k <= dim[0]; ++k)
        if (dim[k] < 1)
            return ct_error_set(CT_ERR_PARSE, "%s: NIfTI dim[%d] = %d (must be >= 1)", path, k, dim[k]);
    if (dim[0] < 3 || dim[1] < 2 || dim[2] < 2 || dim[3] < 2)
        return ct_error_set(CT_ERR_CONFIG, "%s: the image is %d x %d x %d voxels: a segmentation must be 3-D (at least 2 "
                            "voxels along each axis)", path, dim[1], dim[0] >= 2 ? dim[2] : 1, dim[0] >= 3 ? dim[3] : 1);
    for (int k = 4; k <= dim[0]; ++k)
        if (dim[k] > 1)
            return ct_error_set(CT_ERR_CONFIG, "%s: NIfTI dimension %d has %d entries (a %s): give one 3-D scalar image",
                                path, k, dim[k], k == 4 ? "time series" : "vector image");
    static const int16_t types[][2] = {{2, 8}, {256, 8}, {4, 16}, {512, 16}, {8, 32}, {768, 32}, {16, 32}, {64, 64}};
    int bytes = 0;
    for (const auto &t : types)
        if (t[0] == datatype)
            bytes = t[1] / 8;
    if (bytes == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: NIfTI datatype %d is not read (8-, 16- or 32-bit integers, float32, "
                            "float64)", path, datatype);
    if (bitpix != 8 * bytes)
        return ct_error_set(CT_ERR_PARSE, "%s: NIfTI bitpix %d does not match datatype %d", path, bitpix, datatype);
    for (int k = 1; k <= 3; ++k)
        if (!(pixdim[k] > 0) || !std::isfinite(pixdim[k]))
            return ct_error_set(CT_ERR_CONFIG, "%s: NIfTI voxel size pixdim[%d] = %g (must be a positive number)", path, k,
                                static_cast<double>(pixdim[k]));
    if (!(vox_offset >= 348) || !(vox_offset < 1e12f))
        return ct_error_set(CT_ERR_PARSE, "%s: NIfTI vox_offset %g (the data must start after the header)", path,
                            static_cast<double>(vox_offset));
    for (int off : {280, 284, 288, 292, 296, 300, 304, 308, 312, 316, 320, 324, 256, 260, 264, 268, 272, 276, 112, 116}) {
        rd(off, 4, &f4); /* srow_*, quatern_*, qoffset_*, scl_slope, scl_inter */
        if (!std::isfinite(f4) && (off < 256 || (off >= 256 && off < 280 && qcode > 0) || (off >= 280 && scode > 0)))
            return ct_error_set(CT_ERR_PARSE, "%s: a NIfTI header number at byte %d is not finite", path, off);
    }
    const double n = static_cast<double>(dim[1]) * dim[2] * dim[3];
    if (n * (4.0 + bytes) > static_cast<double>(max_bytes))
        return ct_error_set(CT_ERR_CONFIG, "%s: %d x %d x %d voxels would need %.1f GiB of memory to read, more than the "
                            "limit of %.1f GiB (crop or resample the image, or raise max_memory_gib)", path, dim[1], dim[2],
                            dim[3], n * (4.0 + bytes) / 1073741824.0, static_cast<double>(max_bytes) / 1073741824.0);
    if (!ends_with(lower(path), ".gz")) {
        struct stat sb;
        if (stat(path, &sb) == 0 && static_cast<double>(sb.st_size) < static_cast<double>(vox_offset) + n * bytes)
            return ct_error_set(CT_ERR_PARSE, "%s: %lld bytes, the header declares %.0f (truncated file?)", path,
                                static_cast<long long>(sb.st_size), static_cast<double>(vox_offset) + n * bytes);
    }
    return CT_OK;
}

ct_status read_image(const char *path, size_t max_bytes, ct_image **out)
{
    *out = nullptr;
    if (path == nullptr || path[0] == '\0')
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_read_image: path is NULL or empty");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot read: %s", path, std::strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ct_error_set(CT_ERR_IO, "%s: not a regular file", path);
    const image_format fmt = image_format_of(path);
    if (fmt == IMG_NRRD)
        return read_nrrd(path, max_bytes, out);
    vtkSmartPointer<vtkAlgorithm> reader;
    vtkNIFTIImageReader *nifti = nullptr;
    switch (fmt) {
    case IMG_NIFTI:
        CT_CHECK(check_nifti_header(path, max_bytes));
        reader = vtkSmartPointer<vtkNIFTIImageReader>::New();
        nifti = vtkNIFTIImageReader::SafeDownCast(reader);
        break;
    case IMG_META:
        reader = vtkSmartPointer<vtkMetaImageReader>::New();
        break;
    case IMG_VTI:
        reader = vtkSmartPointer<vtkXMLImageDataReader>::New();
        break;
    default:
        return ct_error_set(CT_ERR_CONFIG, "%s: unknown image format (expected .nii, .nii.gz, .mha, .mhd, .nrrd, "
                            ".nhdr or .vti)", path);
    }
    ct_vtk_error_capture errors;
    errors.watch(reader);
    if (fmt == IMG_VTI)
        vtkXMLImageDataReader::SafeDownCast(reader)->SetFileName(path);
    else
        vtkImageReader2::SafeDownCast(reader)->SetFileName(path);
    if (fmt != IMG_VTI && !vtkImageReader2::SafeDownCast(reader)->CanReadFile(path))
        return ct_error_set(CT_ERR_PARSE, "%s: not a readable %s file", path,
                            fmt == IMG_NIFTI ? "NIfTI" : fmt == IMG_META ? "MetaImage" : "NRRD");
    reader->UpdateInformation();
    if (!errors.text.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read the header: %s", path, errors.text.c_str());
    vtkInformation *info = reader->GetOutputInformation(0);
    int ext[6] = {0, -1, 0, -1, 0, -1};
    if (info == nullptr || !info->Has(vtkStreamingDemandDrivenPipeline::WHOLE_EXTENT()))
        return ct_error_set(CT_ERR_PARSE, "%s: the header gives no image size", path);
    info->Get(vtkStreamingDemandDrivenPipeline::WHOLE_EXTENT(), ext);
    int dims[3];
    for (int d = 0; d < 3; ++d)
        dims[d] = ext[2 * d + 1] - ext[2 * d] + 1;
    if (dims[0] < 1 || dims[1] < 1 || dims[2] < 1)
        return ct_error_set(CT_ERR_PARSE, "%s: the header declares an empty image (%d x %d x %d voxels)", path,
                            dims[0], dims[1], dims[2]);
    if (dims[0] < 2 || dims[1] < 2 || dims[2] < 2)
        return ct_error_set(CT_ERR_CONFIG, "%s: the image is %d x %d x %d voxels: a segmentation must be 3-D "
                            "(at least 2 voxels along each axis)", path, dims[0], dims[1], dims[2]);
    if (nifti != nullptr) {
        vtkNIFTIImageHeader *h = nifti->GetNIFTIHeader();
        if (h->GetDim(0) > 3 && h->GetDim(4) > 1)
            return ct_error_set(CT_ERR_CONFIG, "%s: the image has %lld time points (a 4-D series): give one 3-D "
                                "frame", path, static_cast<long long>(h->GetDim(4)));
    }
    const int n_comp = vtkImageData::GetNumberOfScalarComponents(info);
    if (n_comp != 1)
        return ct_error_set(CT_ERR_CONFIG, "%s: %d values per voxel: a label or intensity image has one", path,
                            n_comp);
    const int stype = vtkImageData::GetScalarType(info);
    const size_t n_vox = static_cast<size_t>(dims[0]) * static_cast<size_t>(dims[1]) * static_cast<size_t>(dims[2]);
    const double need = static_cast<double>(n_vox) * (4.0 + static_cast<double>(vtkDataArray::GetDataTypeSize(stype)));
    if (need > static_cast<double>(max_bytes))
        return ct_error_set(CT_ERR_CONFIG, "%s: %d x %d x %d voxels would need %.1f GiB of memory to read, more than "
                            "the limit of %.1f GiB (crop or resample the image, or raise CT_IMAGE_MAX_GIB)", path,
                            dims[0], dims[1], dims[2], need / 1073741824.0,
                            static_cast<double>(max_bytes) / 1073741824.0);
    reader->Update();
    vtkImageData *im = vtkImageData::SafeDownCast(reader->GetOutputDataObject(0));
    if (!errors.text.empty() || im == nullptr || im->GetPointData()->GetScalars() == nullptr)
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read the voxels: %s", path, errors.or_else("no scalars"));
    vtkDataArray *s = im->GetPointData()->GetScalars();
    if (static_cast<size_t>(s->GetNumberOfTuples()) != n_vox)
        return ct_error_set(CT_ERR_PARSE, "%s: %lld voxels read, the header declares %zu", path,
                            static_cast<long long>(s->GetNumberOfTuples()), n_vox);

    /* placement */
    double a[3][4];
    char frame[4] = "";
    double spacing[3], origin[3];
    im->GetSpacing(spacing);
    im->GetOrigin(origin);
    for (int d = 0; d < 3; ++d)
        if (!(spacing[d] > 0) || !std::isfinite(spacing[d]))
            return ct_error_set(CT_ERR_CONFIG, "%s: voxel spacing %g along axis %d must be a positive number", path,
                                spacing[d], d);
    if (fmt == IMG_META || fmt == IMG_NRRD) {
        CT_CHECK(parse_placement(path, fmt, spacing, a, frame));
    } else {
        /* VTK's data coordinates p = origin + spacing * (ext_min + ijk), through a 3x3 direction D (.vti) or
         * the 4x4 NIfTI matrix M: world = M [D p; 1]. */
        double D[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        if (fmt == IMG_VTI)
            for (int r = 0; r < 3; ++r)
                for (int c = 0; c < 3; ++c)
                    D[3 * r + c] = im->GetDirectionMatrix()->GetElement(r, c);
        double M[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        if (nifti != nullptr) {
            std::snprintf(frame, 4, "RAS");
            vtkNIFTIImageHeader *h = nifti->GetNIFTIHeader();
            vtkMatrix4x4 *m = (h->GetSFormCode() > 0 && nifti->GetSFormMatrix()) ? nifti->GetSFormMatrix()
                              : (h->GetQFormCode() > 0 && nifti->GetQFormMatrix()) ? nifti->GetQFormMatrix()
                                                                                    : nullptr;
            if (m != nullptr)
                for (int r = 0; r < 4; ++r)
                    for (int c = 0; c < 4; ++c)
                        M[r][c] = m->GetElement(r, c);
        }
        /* .vti: x = origin + D diag(spacing) (ijk + ext_min); NIfTI (D = I): x = M (origin + spacing (ijk +
         * ext_min)) */
        for (int r = 0; r < 3; ++r) {
            double q[3]; /* row r of the data coordinates' affine */
            for (int c = 0; c < 3; ++c)
                a[r][c] = 0;
            a[r][3] = M[r][3];
            for (int k = 0; k < 3; ++k) {
                double org_k = fmt == IMG_VTI ? (k == r ? 1.0 : 0.0) * origin[r] : origin[k];
                q[k] = org_k;
                for (int c = 0; c < 3; ++c) {
                    double dkc = D[3 * k + c] * spacing[c];
                    a[r][c] += M[r][k] * dkc;
                    q[k] += dkc * ext[2 * c];
                }
                a[r][3] += M[r][k] * q[k];
            }
        }
    }
    if (nifti != nullptr) { /* NIfTI xyzt_units: 1 metre, 2 mm (also the default, 0), 3 micron */
        const int u = nifti->GetNIFTIHeader()->GetXYZTUnits() & 7;
        const double scale = u == 1 ? 1000.0 : u == 3 ? 1e-3 : 1.0;
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 4; ++c)
                a[r][c] *= scale;
    }
    ct_image *img = nullptr;
    ct_status st = ct_image_create(dims, a, &img);
    if (st != CT_OK)
        return ct_error_set(st, "%s: %s", path, ct_error_message());
    std::snprintf(img->frame, sizeof img->frame, "%s", frame);
    double slope = 1, inter = 0;
    if (nifti != nullptr && nifti->GetRescaleSlope() != 0 &&
        (nifti->GetRescaleSlope() != 1 || nifti->GetRescaleIntercept() != 0)) {
        slope = nifti->GetRescaleSlope();
        inter = nifti->GetRescaleIntercept();
    }
    for (size_t i = 0; i < n_vox; ++i) {
        double v = s->GetComponent(static_cast<vtkIdType>(i), 0) * slope + inter;
        if (!std::isfinite(v)) {
            ct_image_destroy(img);
            return ct_error_set(CT_ERR_PARSE, "%s: voxel %zu holds a value that is not a finite number", path, i);
        }
        img->value[i] = static_cast<float>(v);
    }
    *out = img;
    return CT_OK;
}

/* Spacing and rotation of a placement whose 3x3 part is R diag(s), R a rotation; false otherwise. */
bool split_placement(const ct_image *img, double spacing[3], double R[3][3])
{
    for (int c = 0; c < 3; ++c) {
        double n = 0;
        for (int r = 0; r < 3; ++r)
            n += img->ijk_to_mm[r][c] * img->ijk_to_mm[r][c];
        spacing[c] = std::sqrt(n);
        if (!(spacing[c] > 0))
            return false;
        for (int r = 0; r < 3; ++r)
            R[r][c] = img->ijk_to_mm[r][c] / spacing[c];
    }
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            double d = 0;
            for (int r = 0; r < 3; ++r)
                d += R[r][a] * R[r][b];
            if (std::fabs(d - (a == b)) > 1e-6)
                return false;
        }
    const double det = R[0][0] * (R[1][1] * R[2][2] - R[1][2] * R[2][1]) -
                       R[0][1] * (R[1][0] * R[2][2] - R[1][2] * R[2][0]) +
                       R[0][2] * (R[1][0] * R[2][1] - R[1][1] * R[2][0]);
    return det > 0;
}

double clamp_round(double v, int type)
{
    if (type == 2)
        return v;
    const double hi = type == 0 ? 255.0 : 65535.0;
    return std::min(hi, std::max(0.0, std::floor(v + 0.5)));
}

ct_status write_image(const char *path, const ct_image *img, int type)
{
    if (path == nullptr || img == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_write_image: NULL argument");
    if (type < 0 || type > 2)
        return ct_error_set(CT_ERR_INTERNAL, "%s: image type %d (expected 0, 1 or 2)", path, type);
    const image_format fmt = image_format_of(path);
    /* MetaImage is written in ITK's LPS frame, NIfTI in RAS: an image in the other frame is re-expressed */
    ct_image conv = *img;
    const char *want = fmt == IMG_META ? "LPS" : fmt == IMG_NIFTI ? "RAS" : "";
    if (want[0] && conv.frame[0] && std::strcmp(conv.frame, want) != 0)
        CT_CHECK(ct_image_set_frame(&conv, want));
    img = &conv;
    double spacing[3], R[3][3];
    if (!split_placement(img, spacing, R))
        return ct_error_set(CT_ERR_CONFIG, "%s: the voxel axes are not a rotation of positive spacings", path);
    const size_t n = ct_image_n_voxels(img);
    if (fmt == IMG_META) { /* header + raw voxels, little-endian, in one file */
        static const char *const names[3] = {"MET_UCHAR", "MET_USHORT", "MET_FLOAT"};
        static const size_t sizes[3] = {1, 2, 4};
        char head[1024];
        int len = std::snprintf(head, sizeof head,
                                "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
                                "CompressedData = False\nTransformMatrix = %.17g %.17g %.17g %.17g %.17g %.17g %.17g "
                                "%.17g %.17g\nOffset = %.17g %.17g %.17g\nCenterOfRotation = 0 0 0\n"
                                "AnatomicalOrientation = RAI\nElementSpacing = %.17g %.17g %.17g\n"
                                "DimSize = %d %d %d\nElementType = %s\nElementDataFile = LOCAL\n",
                                R[0][0], R[1][0], R[2][0], R[0][1], R[1][1], R[2][1], R[0][2], R[1][2], R[2][2],
                                img->ijk_to_mm[0][3], img->ijk_to_mm[1][3], img->ijk_to_mm[2][3], spacing[0],
                                spacing[1], spacing[2], img->dims[0], img->dims[1], img->dims[2], names[type]);
        std::vector<unsigned char> buf(static_cast<size_t>(len) + n * sizes[type]);
        std::memcpy(buf.data(), head, static_cast<size_t>(len));
        unsigned char *p = buf.data() + len;
        for (size_t i = 0; i < n; ++i) {
            double v = clamp_round(img->value[i], type);
            if (type == 0) {
                p[i] = static_cast<unsigned char>(v);
            } else if (type == 1) {
                uint16_t u = static_cast<uint16_t>(v);
                p[2 * i] = static_cast<unsigned char>(u & 0xff);
                p[2 * i + 1] = static_cast<unsigned char>(u >> 8);
            } else {
                float f = static_cast<float>(v);
                std::memcpy(p + 4 * i, &f, 4); /* x86-64 and aarch64: little-endian */
            }
        }
        return ct_write_file_atomic(path, buf.data(), buf.size());
    }
    if (fmt != IMG_NIFTI && fmt != IMG_VTI)
        return ct_error_set(CT_ERR_CONFIG, "%s: images are written as .nii, .nii.gz, .mha or .vti", path);
    vtkNew<vtkImageData> im;
    im->SetDimensions(img->dims);
    im->SetSpacing(spacing);
    vtkSmartPointer<vtkDataArray> arr;
    if (type == 0)
        arr = vtkSmartPointer<vtkUnsignedCharArray>::New();
    else if (type == 1)
        arr = vtkSmartPointer<vtkUnsignedShortArray>::New();
    else
        arr = vtkSmartPointer<vtkFloatArray>::New();
    arr->SetName("values");
    arr->SetNumberOfTuples(static_cast<vtkIdType>(n));
    for (size_t i = 0; i < n; ++i)
        arr->SetComponent(static_cast<vtkIdType>(i), 0, clamp_round(img->value[i], type));
    im->GetPointData()->SetScalars(arr);
    const std::string p = path;
    /* the writer picks compression from the name: keep ".gz" at the end of the temporary name */
    const bool gz = ends_with(lower(p), ".gz");
    const std::string stem = gz ? p.substr(0, p.size() - 7) : p.substr(0, p.size() - (fmt == IMG_VTI ? 4 : 4));
    const std::string tmp = stem + ".tmp." + std::to_string(static_cast<long>(getpid())) +
                            (fmt == IMG_VTI ? ".vti" : gz ? ".nii.gz" : ".nii");
    ct_vtk_error_capture errors;
    int ok = 0;
    if (fmt == IMG_VTI) {
        im->SetOrigin(img->ijk_to_mm[0][3], img->ijk_to_mm[1][3], img->ijk_to_mm[2][3]);
        im->SetDirectionMatrix(R[0][0], R[0][1], R[0][2], R[1][0], R[1][1], R[1][2], R[2][0], R[2][1], R[2][2]);
        vtkNew<vtkXMLImageDataWriter> w;
        errors.watch(w);
        w->SetFileName(tmp.c_str());
        w->SetInputData(im);
        w->SetCompressorTypeToZLib();
        ok = w->Write();
    } else {
        vtkNew<vtkMatrix4x4> m;
        for (int r = 0; r < 3; ++r) {
            for (int c = 0; c < 3; ++c)
                m->SetElement(r, c, R[r][c]);
            m->SetElement(r, 3, img->ijk_to_mm[r][3]);
        }
        vtkNew<vtkNIFTIImageWriter> w;
        errors.watch(w);
        w->SetFileName(tmp.c_str());
        w->SetInputData(im);
        w->SetQFormMatrix(m);
        w->SetSFormMatrix(m);
        w->Write();
        ok = w->GetErrorCode() == vtkErrorCode::NoError ? 1 : 0;
    }
    if (ok != 1 || !errors.text.empty()) {
        std::remove(tmp.c_str());
        return ct_error_set(CT_ERR_IO, "%s: cannot write (temp file %s): %s", path, tmp.c_str(),
                            errors.or_else(std::strerror(errno)));
    }
    ct_status s = fsync_file(tmp.c_str());
    if (s == CT_OK && std::rename(tmp.c_str(), path) != 0)
        s = ct_error_set(CT_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp.c_str(), std::strerror(errno));
    if (s != CT_OK)
        std::remove(tmp.c_str());
    return s;
}

ct_status mask_surface(const unsigned char *mask, const int dims[3], const double a[3][4], int smooth_iterations,
                       double passband, double target_edge_mm, const char *what, ct_trisurf *out)
{
    /* the mask padded by one empty voxel on every side, in voxel-index coordinates (ijk - 1) */
    int pd[3] = {dims[0] + 2, dims[1] + 2, dims[2] + 2};
    vtkNew<vtkImageData> im;
    im->SetDimensions(pd);
    im->SetOrigin(-1, -1, -1);
    im->SetSpacing(1, 1, 1);
    vtkNew<vtkUnsignedCharArray> arr;
    const size_t np = static_cast<size_t>(pd[0]) * pd[1] * pd[2];
    arr->SetNumberOfTuples(static_cast<vtkIdType>(np));
    unsigned char *dst = arr->GetPointer(0);
    std::memset(dst, 0, np);
    size_t n_in = 0;
    for (int k = 0; k < dims[2]; ++k)
        for (int j = 0; j < dims[1]; ++j)
            for (int i = 0; i < dims[0]; ++i) {
                unsigned char v = mask[i + static_cast<size_t>(dims[0]) * (j + static_cast<size_t>(dims[1]) * k)] ? 1 : 0;
                dst[(i + 1) + static_cast<size_t>(pd[0]) * ((j + 1) + static_cast<size_t>(pd[1]) * (k + 1))] = v;
                n_in += v;
            }
    if (n_in == 0)
        return ct_error_set(CT_ERR_MESH, "%s: no voxel of the myocardium", what);
    im->GetPointData()->SetScalars(arr);
    ct_vtk_error_capture errors;
    vtkNew<vtkDiscreteFlyingEdges3D> contour;
    errors.watch(contour);
    contour->SetInputData(im);
    contour->SetValue(0, 1.0);
    contour->ComputeNormalsOff();
    contour->ComputeGradientsOff();
    contour->ComputeScalarsOff();
    /* the largest connected piece: isolated voxels of a noisy segmentation are dropped */
    vtkNew<vtkPolyDataConnectivityFilter> largest;
    largest->SetInputConnection(contour->GetOutputPort());
    largest->SetExtractionModeToLargestRegion();
    vtkSmartPointer<vtkAlgorithm> last = largest.GetPointer();
    vtkNew<vtkWindowedSincPolyDataFilter> smooth;
    if (smooth_iterations > 0) {
        smooth->SetInputConnection(last->GetOutputPort());
        smooth->SetNumberOfIterations(smooth_iterations);
        smooth->SetPassBand(passband);
        smooth->BoundarySmoothingOff();
        smooth->FeatureEdgeSmoothingOff();
        smooth->NonManifoldSmoothingOn();
        smooth->NormalizeCoordinatesOn();
        last = smooth.GetPointer();
    }
    last->Update();
    vtkPolyData *surf = vtkPolyData::SafeDownCast(last->GetOutputDataObject(0));
    if (!errors.text.empty() || surf == nullptr || surf->GetNumberOfPolys() == 0)
        return ct_error_set(CT_ERR_MESH, "%s: the myocardium gave no surface: %s", what, errors.or_else("empty"));
    vtkSmartPointer<vtkPolyData> result = surf;
    /* to mm, then decimation to about the target edge (quadric error: keeps the shape) */
    vtkNew<vtkPoints> pts;
    pts->SetDataTypeToDouble();
    pts->SetNumberOfPoints(surf->GetNumberOfPoints());
    for (vtkIdType i = 0; i < surf->GetNumberOfPoints(); ++i) {
        double q[3], x[3];
        surf->GetPoint(i, q);
        for (int r = 0; r < 3; ++r)
            x[r] = a[r][0] * q[0] + a[r][1] * q[1] + a[r][2] * q[2] + a[r][3];
        pts->SetPoint(i, x);
    }
    vtkNew<vtkPolyData> mm;
    mm->SetPoints(pts);
    mm->SetPolys(surf->GetPolys());
    result = mm.GetPointer();
    if (target_edge_mm > 0) {
        double area = 0;
        vtkIdType npts;
        const vtkIdType *ids;
        vtkCellArray *polys = mm->GetPolys();
        for (polys->InitTraversal(); polys->GetNextCell(npts, ids);) {
            if (npts != 3)
                continue;
            double p0[3], p1[3], p2[3], u[3], v[3];
            mm->GetPoint(ids[0], p0);
            mm->GetPoint(ids[1], p1);
            mm->GetPoint(ids[2], p2);
            for (int k = 0; k < 3; ++k) {
                u[k] = p1[k] - p0[k];
                v[k] = p2[k] - p0[k];
            }
            double cx = u[1] * v[2] - u[2] * v[1], cy = u[2] * v[0] - u[0] * v[2], cz = u[0] * v[1] - u[1] * v[0];
            area += 0.5 * std::sqrt(cx * cx + cy * cy + cz * cz);
        }
        const double want = area / (0.433 * target_edge_mm * target_edge_mm); /* equilateral triangles */
        const double have = static_cast<double>(mm->GetNumberOfPolys());
        if (want < 0.8 * have) {
            vtkNew<vtkQuadricDecimation> dec;
            errors.watch(dec);
            dec->SetInputData(mm);
            dec->SetTargetReduction(1.0 - want / have);
            dec->VolumePreservationOn();
            dec->Update();
            if (!errors.text.empty())
                return ct_error_set(CT_ERR_MESH, "%s: decimating the surface failed: %s", what, errors.text.c_str());
            result = dec->GetOutput();
        }
    }
    out->n_points = static_cast<size_t>(result->GetNumberOfPoints());
    out->n_tris = static_cast<size_t>(result->GetNumberOfPolys());
    out->xyz_mm = static_cast<double *>(std::malloc(3 * out->n_points * sizeof(double) + 1));
    out->tris = static_cast<int32_t *>(std::malloc(3 * out->n_tris * sizeof(int32_t) + 1));
    if (!out->xyz_mm || !out->tris) {
        ct_trisurf_free(out);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for the surface", what);
    }
    for (size_t i = 0; i < out->n_points; ++i)
        result->GetPoint(static_cast<vtkIdType>(i), out->xyz_mm + 3 * i);
    size_t t = 0;
    vtkIdType npts;
    const vtkIdType *ids;
    vtkCellArray *polys = result->GetPolys();
    for (polys->InitTraversal(); polys->GetNextCell(npts, ids) != 0;) {
        if (npts != 3) {
            ct_trisurf_free(out);
            return ct_error_set(CT_ERR_INTERNAL, "%s: the contour holds a %lld-gon", what, static_cast<long long>(npts));
        }
        for (int k = 0; k < 3; ++k)
            out->tris[3 * t + k] = static_cast<int32_t>(ids[k]);
        ++t;
    }
    return CT_OK;
}

} // namespace

extern "C" ct_status ct_vtk_read_image(const char *path, size_t max_bytes, ct_image **out)
{
    if (out != nullptr)
        *out = nullptr;
    return guarded("reading image", path, [&] { return read_image(path, max_bytes, out); });
}

extern "C" ct_status ct_vtk_write_image(const char *path, const ct_image *img, int type)
{
    return guarded("writing image", path, [&] { return write_image(path, img, type); });
}

extern "C" void ct_trisurf_free(ct_trisurf *s)
{
    if (s == nullptr)
        return;
    std::free(s->xyz_mm);
    std::free(s->tris);
    std::memset(s, 0, sizeof *s);
}

extern "C" ct_status ct_vtk_mask_surface(const unsigned char *mask, const int dims[3], const double ijk_to_mm[3][4],
                                         int smooth_iterations, double passband, double target_edge_mm,
                                         const char *what, ct_trisurf *out)
{
    std::memset(out, 0, sizeof *out);
    return guarded("extracting a surface", what, [&] {
        return mask_surface(mask, dims, ijk_to_mm, smooth_iterations, passband, target_edge_mm, what, out);
    });
}

/* ---- triangulated surfaces (STL, PLY, OBJ, VTP) ------------------------------------------------ */

#include <vtkCleanPolyData.h>
#include <vtkIntArray.h>
#include <vtkOBJReader.h>
#include <vtkPLYReader.h>
#include <vtkSTLReader.h>
#include <vtkTriangleFilter.h>
#include <vtkXMLPolyDataReader.h>
#include <vtkXMLPolyDataWriter.h>
#include <vtksys/SystemTools.hxx>

namespace {

/* VTK 9.1's PLY reader (vtkPLYReader, on Greg Turk's vtkPLY) trusts the file: a face's vertex index is used
 * unchecked to fetch that point (a read far outside the points array: found by fuzz_surface, one flipped
 * byte), a face has room for 256 corners, faces read before the vertices have no points, elements other than
 * "vertex" before "face" are read as faces, and a header count sizes the points array before the data is
 * seen. check_ply walks the whole file first, as vtkPLY would read it (header and ASCII lines split into
 * words at spaces, tabs and CRs; binary items of the sizes the header declares), and refuses, naming the
 * file, anything VTK would misread: only files whose first two elements are "vertex" (scalar properties,
 * x, y and z among them) and "face" (a list "vertex_indices" of whole-number indices below the vertex count,
 * at most 256 per face), every value present, reach VTK. Elements after these two are never read. */
struct ply_prop {
    std::string name;
    int type = 0, count_type = 0; /* byte sizes (1, 2, 4, 8); count_type 0: not a list */
    bool is_float = false, is_signed = true, count_signed = true;
};
struct ply_elem {
    std::string name;
    long long count = 0;
    std::vector<ply_prop> props;
};

bool ply_type(const std::string &w, int *size, bool *is_float)
{
    static const struct { const char *name; int size; bool fl; } types[] = {
        {"char", 1, false},  {"int8", 1, false},   {"uchar", 1, false},  {"uint8", 1, false},
        {"short", 2, false}, {"int16", 2, false},  {"ushort", 2, false}, {"uint16", 2, false},
        {"int", 4, false},   {"int32", 4, false},  {"uint", 4, false},   {"uint32", 4, false},
        {"float", 4, true},  {"float32", 4, true}, {"double", 8, true},  {"float64", 8, true}};
    for (const auto &t : types)
        if (w == t.name) {
            *size = t.size;
            *is_float = t.fl;
            return true;
        }
    return false;
}

/* words of one line as vtkPLY's get_words splits them; false if the line is too long or holds a NUL */
bool ply_words(const std::string &data, size_t *pos, std::vector<std::string> *words)
{
    words->clear();
    if (*pos >= data.size())
        return false;
    size_t end = data.find('\n', *pos);
    const size_t stop = end == std::string::npos ? data.size() : end;
    if (stop - *pos > 4000)
        return false;
    std::string w;
    for (size_t i = *pos; i < stop; ++i) {
        const char c = data[i];
        if (c == '\0')
            return false;
        if (c == ' ' || c == '\t' || c == '\r') {
            if (!w.empty())
                words->push_back(w);
            w.clear();
        } else {
            w += c;
        }
    }
    if (!w.empty())
        words->push_back(w);
    *pos = end == std::string::npos ? data.size() : end + 1;
    return true;
}

bool ply_whole(const std::string &w, long long lo, long long hi, long long *v)
{
    if (w.empty() || w.size() > 20)
        return false;
    char *end = nullptr;
    errno = 0;
    const long long x = std::strtoll(w.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || x < lo || x > hi)
        return false;
    *v = x;
    return true;
}

ct_status check_ply(const char *path)
{
    std::string data;
    CT_CHECK(read_whole_file(path, &data));
    auto refuse = [&](const std::string &why) {
        return ct_error_set(CT_ERR_PARSE, "%s: not a PLY surface this reader accepts: %s", path, why.c_str());
    };
    size_t pos = 0;
    std::vector<std::string> w;
    if (!ply_words(data, &pos, &w) || w.size() != 1 || w[0] != "ply")
        return refuse("the first line is not \"ply\"");
    int format = -1; /* 0 ascii, 1 binary little endian, 2 binary big endian */
    std::vector<ply_elem> elems;
    for (;;) {
        if (!ply_words(data, &pos, &w))
            return refuse("no \"end_header\" line (or a header line too long or holding a NUL byte)");
        if (w.empty() || w[0] == "comment" || w[0] == "obj_info")
            continue;
        if (w[0] == "end_header" && w.size() == 1)
            break;
        if (w[0] == "format" && w.size() == 3 && format < 0) {
            format = w[1] == "ascii" ? 0 : w[1] == "binary_little_endian" ? 1 : w[1] == "binary_big_endian" ? 2 : -1;
            if (format < 0)
                return refuse("unknown format \"" + w[1] + "\"");
        } else if (w[0] == "element" && w.size() == 3) {
            ply_elem e;
            e.name = w[1];
            if (!ply_whole(w[2], 0, INT_MAX, &e.count))
                return refuse("element \"" + w[1] + "\": count \"" + w[2] + "\" is not a whole number in [0, 2^31)");
            elems.push_back(e);
        } else if (w[0] == "property" && !elems.empty() && (w.size() == 3 || (w.size() == 5 && w[1] == "list"))) {
            ply_prop p;
            bool count_float = false;
            p.name = w.back();
            p.is_signed = w[w.size() - 2][0] != 'u';
            p.count_signed = w[2][0] != 'u';
            if (!ply_type(w[w.size() - 2], &p.type, &p.is_float) ||
                (w.size() == 5 && (!ply_type(w[2], &p.count_type, &count_float) || count_float)))
                return refuse("property \"" + p.name + "\": unknown or unusable type");
            elems.back().props.push_back(p);
        } else {
            return refuse("unexpected header line starting \"" + w[0] + "\"");
        }
    }
    if (format < 0)
        return refuse("no \"format\" line");
    if (elems.size() < 2 || elems[0].name != "vertex" || elems[1].name != "face")
        return refuse("the first two elements must be \"vertex\" and \"face\"");
    int xyz = 0;
    for (const ply_prop &p : elems[0].props) {
        if (p.count_type)
            return refuse("vertex property \"" + p.name + "\" is a list");
        xyz |= p.name == "x" ? 1 : p.name == "y" ? 2 : p.name == "z" ? 4 : 0;
    }
    if (xyz != 7)
        return refuse("the vertex element lacks x, y or z");
    int n_index_lists = 0;
    for (const ply_prop &p : elems[1].props)
        if (p.name == "vertex_indices" || p.name == "vertex_index") {
            if (!p.count_type || p.is_float)
                return refuse("face property \"" + p.name + "\" is not a list of whole numbers");
            ++n_index_lists;
        }
    if (n_index_lists != 1)
        return refuse("the face element needs one list \"vertex_indices\"");
    const long long n_vertices = elems[0].count;
    /* the body, element by element, as vtkPLY reads it */
    auto binary_value = [&](int size, bool is_float, bool is_signed, long double *v) {
        if (data.size() - pos < static_cast<size_t>(size))
            return false;
        unsigned char b[8];
        for (int i = 0; i < size; ++i)
            b[i] = static_cast<unsigned char>(data[pos + (format == 1 ? i : size - 1 - i)]);
        pos += static_cast<size_t>(size);
        uint64_t u = 0;
        for (int i = size - 1; i >= 0; --i)
            u = u << 8 | b[i];
        if (is_float)
            *v = 0; /* value not needed */
        else if (is_signed && size < 8 && (u >> (8 * size - 1)) != 0)
            *v = static_cast<long double>(static_cast<long long>(u) - (1LL << (8 * size)));
        else
            *v = static_cast<long double>(u);
        return true;
    };
    for (int e = 0; e < 2; ++e) {
        const ply_elem &el = elems[static_cast<size_t>(e)];
        for (long long i = 0; i < el.count; ++i) {
            size_t word = 0;
            if (format == 0 && !ply_words(data, &pos, &w))
                return refuse(el.name + " " + std::to_string(i) + ": missing, or its line is too long or holds a NUL byte");
            for (const ply_prop &p : el.props) {
                const bool indices = e == 1 && (p.name == "vertex_indices" || p.name == "vertex_index");
                long long count = 1;
                if (p.count_type) {
                    if (format == 0) {
                        if (word >= w.size() || !ply_whole(w[word++], 0, indices ? 256 : 65536, &count))
                            return refuse(el.name + " " + std::to_string(i) + ": list \"" + p.name +
                                          "\" has no count or one out of range");
                    } else {
                        long double c;
                        if (!binary_value(p.count_type, false, p.count_signed, &c) || c < 0 || c > (indices ? 256 : 65536))
                            return refuse(el.name + " " + std::to_string(i) + ": list \"" + p.name +
                                          "\" has no count or one out of range");
                        count = static_cast<long long>(c);
                    }
                }
                for (long long k = 0; k < count; ++k) {
                    if (format == 0) {
                        if (word >= w.size())
                            return refuse(el.name + " " + std::to_string(i) + ": too few values");
                        long long v;
                        if (indices && !ply_whole(w[word], 0, n_vertices - 1, &v))
                            return refuse(el.name + " " + std::to_string(i) + ": vertex index \"" + w[word] +
                                          "\" is not a whole number in [0, " + std::to_string(n_vertices) + ")");
                        ++word;
                    } else {
                        long double v;
                        if (!binary_value(p.type, p.is_float, p.is_signed, &v))
                            return refuse(el.name + " " + std::to_string(i) + ": the file ends early");
                        if (indices && (v < 0 || v >= static_cast<long double>(n_vertices)))
                            return refuse(el.name + " " + std::to_string(i) + ": vertex index " +
                                          std::to_string(static_cast<long long>(v)) + " outside [0, " +
                                          std::to_string(n_vertices) + ")");
                    }
                }
            }
        }
    }
    return CT_OK;
}

/* VTK 9.1's OBJ reader dereferences a texture-coordinate or normal index that has nothing to point to (a
 * corner "4/2" in a file without "vt" lines, a zero or negative index: fuzz_surface,
 * regress_obj_tcoord_without_vt.bin). check_obj lets through only files whose face, line and point
 * corners ("v", "v/vt", "v//vn", "v/vt/vn") are whole numbers in [1, the number of such lines in the file],
 * and without NUL bytes or line continuations. */
ct_status check_obj(const char *path)
{
    std::string data;
    CT_CHECK(read_whole_file(path, &data));
    if (data.find('\0') != std::string::npos || data.find('\\') != std::string::npos)
        return ct_error_set(CT_ERR_PARSE, "%s: not an OBJ surface this reader accepts: a NUL byte or a line "
                            "continuation", path);
    std::vector<std::vector<std::string>> lines;
    long long count[3] = {0, 0, 0}; /* v, vt, vn */
    size_t pos = 0;
    std::vector<std::string> w;
    while (ply_words(data, &pos, &w)) {
        if (w.empty())
            continue;
        if (w[0] == "v")
            ++count[0];
        else if (w[0] == "vt")
            ++count[1];
        else if (w[0] == "vn")
            ++count[2];
        else if (w[0] == "f" || w[0] == "l" || w[0] == "p")
            lines.push_back(w);
    }
    if (pos < data.size())
        return ct_error_set(CT_ERR_PARSE, "%s: not an OBJ surface this reader accepts: a line over 4000 bytes", path);
    for (const auto &l : lines)
        for (size_t i = 1; i < l.size(); ++i) {
            const std::string &c = l[i];
            size_t start = 0;
            for (int k = 0; k < 3 && start <= c.size(); ++k) {
                size_t slash = c.find('/', start);
                const std::string part = c.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
                long long v;
                if (!(k == 1 && part.empty() && slash != std::string::npos) && !ply_whole(part, 1, count[k], &v))
                    return ct_error_set(CT_ERR_PARSE, "%s: not an OBJ surface this reader accepts: \"%s\" corner "
                                        "\"%s\" refers to no %s (whole numbers from 1 to %lld)", path, l[0].c_str(),
                                        c.c_str(), k == 0 ? "vertex" : k == 1 ? "texture coordinate" : "normal",
                                        count[k]);
                if (slash == std::string::npos)
                    break;
                if (k == 2)
                    return ct_error_set(CT_ERR_PARSE, "%s: not an OBJ surface this reader accepts: corner \"%s\"",
                                        path, c.c_str());
                start = slash + 1;
            }
        }
    return CT_OK;
}

ct_status read_surface(const char *path, ct_trisurf *out)
{
    if (path == nullptr || path[0] == '\0')
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_read_surface: path is NULL or empty");
    const std::string p = lower(path);
    enum { STL, PLY, OBJ, VTP } fmt;
    if (ends_with(p, ".stl"))
        fmt = STL;
    else if (ends_with(p, ".ply"))
        fmt = PLY;
    else if (ends_with(p, ".obj"))
        fmt = OBJ;
    else if (ends_with(p, ".vtp"))
        fmt = VTP;
    else
        return ct_error_set(CT_ERR_CONFIG, "%s: unknown surface format (expected .stl, .ply, .obj or .vtp)", path);
    /* the readers' own messages for a missing file are vague: check first */
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ct_error_set(CT_ERR_IO, "%s: not a regular file", path);
    if (sb.st_size == 0)
        return ct_error_set(CT_ERR_PARSE, "%s: the file is empty", path);
    FILE *f = std::fopen(path, "rb");
    if (f == nullptr)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    std::fclose(f);

    ct_vtk_error_capture errors;
    vtkSmartPointer<vtkAlgorithm> reader;
    if (fmt == STL) {
        /* VTK 9.1's binary STL reader (binary as vtksys::SystemTools::DetectFileType decides, like
         * vtkSTLReader::GetSTLFileType) sizes its arrays from the triangle count at byte 80 before reading a
         * triangle: a corrupt count asks for up to 4 G triangles (fuzz_surface,
         * regress_stl_binary_count.bin). The count must fit the file: 84 + 50 bytes per triangle. */
        if (vtksys::SystemTools::DetectFileType(path) != vtksys::SystemTools::FileTypeText) {
            unsigned char h[84];
            FILE *fs = std::fopen(path, "rb");
            const size_t got = fs ? std::fread(h, 1, sizeof h, fs) : 0;
            if (fs)
                std::fclose(fs);
            if (got != sizeof h)
                return ct_error_set(CT_ERR_PARSE, "%s: %zu bytes: shorter than a binary STL header (84 bytes)", path,
                                    got);
            const unsigned long long n = h[80] | h[81] << 8 | h[82] << 16 | static_cast<unsigned long long>(h[83]) << 24;
            if (84 + 50 * n > static_cast<unsigned long long>(sb.st_size))
                return ct_error_set(CT_ERR_PARSE, "%s: binary STL declares %llu triangles (%llu bytes) in a file of "
                                    "%lld bytes", path, n, 84 + 50 * n, static_cast<long long>(sb.st_size));
        }
        auto r = vtkSmartPointer<vtkSTLReader>::New();
        r->SetFileName(path);
        r->MergingOn();
        reader = r;
    } else if (fmt == PLY) {
        CT_CHECK(check_ply(path));
        auto r = vtkSmartPointer<vtkPLYReader>::New();
        r->SetFileName(path);
        reader = r;
    } else if (fmt == OBJ) {
        CT_CHECK(check_obj(path));
        auto r = vtkSmartPointer<vtkOBJReader>::New();
        r->SetFileName(path);
        reader = r;
    } else {
        auto r = vtkSmartPointer<vtkXMLPolyDataReader>::New();
        r->SetFileName(path);
        reader = r;
    }
    errors.watch(reader);
    ct_vtk_error_capture warnings; /* the PLY reader reports an unreadable file as a warning */
    reader->AddObserver(vtkCommand::WarningEvent, warnings.command);
    /* VTK 9.1's OBJ reader (and the others) pass on a cell's point index as the file gives it, and its
     * filters then fetch that point unchecked (a read outside the points array: fuzz_surface,
     * regress_obj_index_out_of_range.bin): every index is checked here, before any filter runs. */
    reader->Update();
    if (!errors.text.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read the surface: %s", path, errors.text.c_str());
    vtkPolyData *raw = vtkPolyData::SafeDownCast(reader->GetOutputDataObject(0));
    if (raw == nullptr)
        return ct_error_set(CT_ERR_PARSE, "%s: no triangles in the file (is it a surface of this format?)%s%s", path,
                            warnings.text.empty() ? "" : ": ", warnings.text.c_str());
    {
        const vtkIdType n_raw = raw->GetPoints() ? raw->GetNumberOfPoints() : 0;
        vtkCellArray *kinds[4] = {raw->GetVerts(), raw->GetLines(), raw->GetPolys(), raw->GetStrips()};
        vtkIdType cell = 0;
        for (vtkCellArray *ca : kinds) {
            vtkIdType n;
            const vtkIdType *ids;
            if (ca == nullptr)
                continue;
            for (ca->InitTraversal(); ca->GetNextCell(n, ids) != 0; ++cell)
                for (vtkIdType k = 0; k < n; ++k)
                    if (ids[k] < 0 || ids[k] >= n_raw)
                        return ct_error_set(CT_ERR_PARSE, "%s: cell %lld refers to point %lld, outside [0, %lld)", path,
                                            static_cast<long long>(cell), static_cast<long long>(ids[k]),
                                            static_cast<long long>(n_raw));
        }
    }
    /* polygons to triangles (lines and vertices dropped), then coincident points merged (exactly) and
     * triangles that collapse in the merge dropped */
    vtkNew<vtkTriangleFilter> tri;
    errors.watch(tri);
    tri->SetInputConnection(reader->GetOutputPort());
    tri->PassLinesOff();
    tri->PassVertsOff();
    vtkNew<vtkCleanPolyData> clean;
    errors.watch(clean);
    clean->SetInputConnection(tri->GetOutputPort());
    clean->PointMergingOn();
    clean->SetTolerance(0.0);
    clean->ConvertPolysToLinesOff();
    clean->ConvertLinesToPointsOff();
    clean->ConvertStripsToPolysOn();
    clean->Update();
    vtkPolyData *surf = clean->GetOutput();
    if (!errors.text.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read the surface: %s", path, errors.text.c_str());
    if (surf == nullptr || surf->GetNumberOfPolys() == 0)
        return ct_error_set(CT_ERR_PARSE, "%s: no triangles in the file (is it a surface of this format?)%s%s", path,
                            warnings.text.empty() ? "" : ": ", warnings.text.c_str());
    if (surf->GetNumberOfPoints() > static_cast<vtkIdType>(INT32_MAX))
        return ct_error_set(CT_ERR_MESH, "%s: %lld points exceed the int32 index range", path,
                            static_cast<long long>(surf->GetNumberOfPoints()));
    const size_t np = static_cast<size_t>(surf->GetNumberOfPoints());
    vtkCellArray *polys = surf->GetPolys();
    size_t nt = 0;
    vtkIdType npts;
    const vtkIdType *ids;
    for (polys->InitTraversal(); polys->GetNextCell(npts, ids) != 0;)
        if (npts == 3 && ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2])
            ++nt;
    if (nt == 0)
        return ct_error_set(CT_ERR_PARSE, "%s: no triangles in the file (is it a surface of this format?)", path);
    out->xyz_mm = static_cast<double *>(std::malloc(3 * np * sizeof(double) + 1));
    out->tris = static_cast<int32_t *>(std::malloc(3 * nt * sizeof(int32_t) + 1));
    if (!out->xyz_mm || !out->tris) {
        ct_trisurf_free(out);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu points and %zu triangles", path, np, nt);
    }
    out->n_points = np;
    out->n_tris = nt;
    for (size_t i = 0; i < np; ++i) {
        surf->GetPoint(static_cast<vtkIdType>(i), out->xyz_mm + 3 * i);
        for (int k = 0; k < 3; ++k)
            if (!std::isfinite(out->xyz_mm[3 * i + k])) {
                ct_trisurf_free(out);
                return ct_error_set(CT_ERR_PARSE, "%s: point %zu has a coordinate that is not a finite number", path,
                                    i);
            }
    }
    size_t t = 0;
    for (polys->InitTraversal(); polys->GetNextCell(npts, ids) != 0;) {
        if (!(npts == 3 && ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]))
            continue;
        for (int k = 0; k < 3; ++k)
            out->tris[3 * t + k] = static_cast<int32_t>(ids[k]);
        ++t;
    }
    return CT_OK;
}

ct_status write_surface_vtp(const char *path, const ct_trisurf *s, const int32_t *labels)
{
    if (path == nullptr || path[0] == '\0' || s == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_write_surface_vtp: NULL argument");
    if ((s->n_points > 0 && s->xyz_mm == nullptr) || (s->n_tris > 0 && s->tris == nullptr))
        return ct_error_set(CT_ERR_INTERNAL, "%s: points or triangles array is NULL", path);
    for (size_t t = 0; t < 3 * s->n_tris; ++t)
        if (s->tris[t] < 0 || static_cast<size_t>(s->tris[t]) >= s->n_points)
            return ct_error_set(CT_ERR_MESH, "%s: triangle %zu corner %zu: point index %d outside [0, %zu)", path,
                                t / 3, t % 3, static_cast<int>(s->tris[t]), s->n_points);
    vtkNew<vtkPolyData> pd;
    vtkNew<vtkDoubleArray> xyz;
    xyz->SetNumberOfComponents(3);
    xyz->SetNumberOfTuples(static_cast<vtkIdType>(s->n_points));
    if (s->n_points > 0)
        std::memcpy(xyz->GetPointer(0), s->xyz_mm, 3 * s->n_points * sizeof(double));
    vtkNew<vtkPoints> points;
    points->SetData(xyz);
    pd->SetPoints(points);
    vtkNew<vtkIdTypeArray> offsets, connectivity;
    offsets->SetNumberOfTuples(static_cast<vtkIdType>(s->n_tris + 1));
    connectivity->SetNumberOfTuples(static_cast<vtkIdType>(3 * s->n_tris));
    for (size_t t = 0; t <= s->n_tris; ++t)
        offsets->SetValue(static_cast<vtkIdType>(t), static_cast<vtkIdType>(3 * t));
    for (size_t i = 0; i < 3 * s->n_tris; ++i)
        connectivity->SetValue(static_cast<vtkIdType>(i), s->tris[i]);
    vtkNew<vtkCellArray> cells;
    cells->SetData(offsets, connectivity);
    pd->SetPolys(cells);
    if (labels != nullptr) {
        vtkNew<vtkIntArray> lab;
        lab->SetName("label");
        lab->SetNumberOfTuples(static_cast<vtkIdType>(s->n_tris));
        for (size_t t = 0; t < s->n_tris; ++t)
            lab->SetValue(static_cast<vtkIdType>(t), labels[t]);
        pd->GetCellData()->AddArray(lab);
    }
    const std::string tmp = std::string(path) + ".tmp." + std::to_string(static_cast<long>(getpid())) + ".vtp";
    ct_vtk_error_capture errors;
    vtkNew<vtkXMLPolyDataWriter> writer;
    errors.watch(writer);
    writer->SetFileName(tmp.c_str());
    writer->SetInputData(pd);
    writer->SetDataModeToAppended();
    writer->EncodeAppendedDataOff();
    writer->SetCompressorTypeToZLib();
    writer->SetHeaderTypeToUInt64();
    const int ok = writer->Write();
    if (ok != 1 || writer->GetErrorCode() != vtkErrorCode::NoError || !errors.text.empty()) {
        int saved_errno = errno;
        std::remove(tmp.c_str());
        return ct_error_set(CT_ERR_IO, "%s: cannot write (temp file %s): %s", path, tmp.c_str(),
                            errors.or_else(std::strerror(saved_errno)));
    }
    ct_status st = fsync_file(tmp.c_str());
    if (st == CT_OK && std::rename(tmp.c_str(), path) != 0)
        st = ct_error_set(CT_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp.c_str(), std::strerror(errno));
    if (st != CT_OK)
        std::remove(tmp.c_str());
    return st;
}

} // namespace

extern "C" ct_status ct_vtk_read_surface(const char *path, ct_trisurf *out)
{
    if (out == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_read_surface: out is NULL");
    std::memset(out, 0, sizeof *out);
    ct_status st = guarded("reading a surface", path, [&] { return read_surface(path, out); });
    if (st != CT_OK)
        ct_trisurf_free(out);
    return st;
}

extern "C" ct_status ct_vtk_write_surface_vtp(const char *path, const ct_trisurf *s, const int32_t *labels)
{
    return guarded("writing a surface", path, [&] { return write_surface_vtp(path, s, labels); });
}

/* ---- a closed surface to a voxel mask ------------------------------------------------------------------- */

#include <vtkImageStencilData.h>
#include <vtkPolyDataToImageStencil.h>

extern "C" ct_status ct_vtk_surface_mask(const ct_trisurf *s, const int dims[3], const double a[3][4], const char *what,
                                         unsigned char *mask)
{
    return guarded("voxelising a surface", what, [&]() -> ct_status {
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 3; ++c)
                if (r != c && a[r][c] != 0)
                    return ct_error_set(CT_ERR_INTERNAL, "%s: voxelising needs an axis-aligned grid", what);
        vtkNew<vtkPoints> pts;
        pts->SetDataTypeToDouble();
        pts->SetNumberOfPoints(static_cast<vtkIdType>(s->n_points));
        for (size_t i = 0; i < s->n_points; ++i)
            pts->SetPoint(static_cast<vtkIdType>(i), s->xyz_mm + 3 * i);
        vtkNew<vtkCellArray> tris;
        for (size_t t = 0; t < s->n_tris; ++t) {
            vtkIdType ids[3] = {s->tris[3 * t], s->tris[3 * t + 1], s->tris[3 * t + 2]};
            tris->InsertNextCell(3, ids);
        }
        vtkNew<vtkPolyData> pd;
        pd->SetPoints(pts);
        pd->SetPolys(tris);
        ct_vtk_error_capture errors;
        vtkNew<vtkPolyDataToImageStencil> st;
        errors.watch(st);
        st->SetInputData(pd);
        st->SetOutputOrigin(a[0][3], a[1][3], a[2][3]);
        st->SetOutputSpacing(a[0][0], a[1][1], a[2][2]);
        st->SetOutputWholeExtent(0, dims[0] - 1, 0, dims[1] - 1, 0, dims[2] - 1);
        st->SetTolerance(0);
        st->Update();
        if (!errors.text.empty())
            return ct_error_set(CT_ERR_MESH, "%s: cannot voxelise the surface: %s", what, errors.text.c_str());
        vtkImageStencilData *sd = st->GetOutput();
        const size_t n = static_cast<size_t>(dims[0]) * dims[1] * dims[2];
        std::memset(mask, 0, n);
        for (int k = 0; k < dims[2]; ++k)
            for (int j = 0; j < dims[1]; ++j) {
                int iter = 0, r1 = 0, r2 = 0;
                while (sd->GetNextExtent(r1, r2, 0, dims[0] - 1, j, k, iter))
                    for (int i = std::max(r1, 0); i <= std::min(r2, dims[0] - 1); ++i)
                        mask[i + static_cast<size_t>(dims[0]) * (j + static_cast<size_t>(dims[1]) * k)] = 1;
            }
        return CT_OK;
    });
}
